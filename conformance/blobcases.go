package conformance

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/streams-dev/streams/dsl"
)

// blobSinkCase writes upper-cased lines to objects of at most two, a
// newline after each, named by their first message's source position
// and the partition's sequence. The fifth line, alone in its partition's
// batch, is written when its second is up.
func blobSinkCase() Case {
	return Case{
		Name: "blob_sink",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "lines").
				Apply("upper", dsl.Map(func(b []byte) ([]byte, error) { return bytes.ToUpper(b), nil })).
				Sink("out", dsl.BlobSink("conformance-bucket", dsl.BlobBatch(2, 0, time.Second),
					dsl.BlobDelimiter([]byte("\n")), dsl.BlobObjectName("{step}/{partition}-{offset}-{seq}.txt")))
		},
		Input: []Record{{Key: "a", Value: "one"}, {Key: "b", Value: "two"}, {Key: "c", Value: "three"},
			{Key: "d", Value: "four"}, {Key: "e", Value: "five"}},
		Blobs: map[string]BlobWant{"out": {
			Decode:   Lines,
			Name:     `out/[01]-\d+-\d{6}\.txt`,
			Items:    []string{"ONE", "TWO", "THREE", "FOUR", "FIVE"},
			MaxItems: 2,
		}},
	}
}

// parquetSerializerCase parses metrics, batches them two at a time (or
// what a second brings) and writes each batch as a Parquet file; the
// rows read back are the valid metrics, once each. The invalid record
// goes to the dead-letter queue.
func parquetSerializerCase() Case {
	return Case{
		Name: "parquet_serializer",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "metrics").
				Apply("parse", dsl.Parser[metric]()).
				Apply("batch", dsl.Batch[metric](2, time.Second)).
				Apply("parquet", dsl.ParquetSerializer[metric](dsl.ParquetCompression("zstd"))).
				Sink("out", dsl.BlobSink("conformance-bucket", dsl.BlobObjectName("{step}/{date}/{random}.parquet")))
		},
		DLQ: true,
		Input: []Record{
			{Key: "k1", Value: `{"name":"cpu","value":1.5}`},
			{Key: "k2", Value: `{"name":"mem","value":4}`},
			{Key: "k3", Value: `not json`},
			{Key: "k4", Value: `{"name":"disk","value":0.25}`},
			{Key: "k5", Value: `{"name":"net","value":7}`},
			{Key: "k6", Value: `{"name":"cpu","value":2}`},
		},
		Want: map[string][]Record{DLQ: {{Key: "k3", Value: `not json`, Headers: map[string]string{"streams.dlq.step": "parse"}}}},
		Blobs: map[string]BlobWant{"out": {
			Decode: ParquetRows[metric](),
			Name:   `out/\d{4}-\d{2}-\d{2}/[0-9a-f]{16}\.parquet`,
			Items: []string{`{"name":"cpu","value":1.5}`, `{"name":"mem","value":4}`, `{"name":"disk","value":0.25}`,
				`{"name":"net","value":7}`, `{"name":"cpu","value":2}`},
			MaxItems: 2,
		}},
	}
}

// windowedParquetCase collects each user's visits of a 10-second window
// (Reduce with Collect) and writes them as one Parquet file, named by
// the user and the window's last instant ({key}, {time}): one file per
// user and window, the same on every runner. The record at 9.999s is
// the last of the first window.
func windowedParquetCase() Case {
	file := func(user string, end time.Duration, pages ...string) BlobObject {
		o := BlobObject{Name: fmt.Sprintf(`out/%s/%s-[0-9a-f]{16}\.parquet`, user, at(end-time.Millisecond).Format("20060102T150405Z"))}
		for _, p := range pages {
			o.Items = append(o.Items, fmt.Sprintf(`{"user":%q,"page":%q}`, user, p))
		}
		return o
	}
	return Case{
		Name:       "parquet_windowed",
		Partitions: 1,
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "visits").
				Apply("parse", dsl.Parser[visit]()).
				Apply("collect", dsl.Reduce(dsl.TumblingWindow(10*time.Second), userOf, dsl.Collect[visit]())).
				Apply("rows", dsl.Map(func(w dsl.Windowed[string, []visit]) ([]visit, error) {
					slices.SortFunc(w.Value, func(a, b visit) int { return strings.Compare(a.Page, b.Page) })
					return w.Value, nil
				})).
				Apply("parquet", dsl.ParquetSerializer[visit]()).
				Sink("out", dsl.BlobSink("conformance-bucket", dsl.BlobObjectName("{step}/{key}/{time}-{random}.parquet")))
		},
		Input: []Record{
			visitRecord("u1", "/a", 0),
			visitRecord("u2", "/a", time.Second),
			visitRecord("u1", "/b", 9999*time.Millisecond),
			visitRecord("u1", "/c", 10*time.Second),
			visitRecord("u2", "/b", 15*time.Second),
			visitRecord("u2", "/c", 17*time.Second),
			visitRecord("u1", "/d", 31*time.Second),
		},
		Blobs: map[string]BlobWant{"out": {
			Decode: ParquetRows[visit](),
			Name:   `out/u[12]/\d{8}T\d{6}Z-[0-9a-f]{16}\.parquet`,
			Objects: []BlobObject{
				file("u1", 10*time.Second, "/a", "/b"),
				file("u2", 10*time.Second, "/a"),
				file("u1", 20*time.Second, "/c"),
				file("u2", 20*time.Second, "/b", "/c"),
				file("u1", 40*time.Second, "/d"),
			},
		}},
	}
}
