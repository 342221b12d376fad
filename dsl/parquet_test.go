package dsl_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/streams-dev/streams/dsl"
)

type row struct {
	User  string  `parquet:"user"`
	Count int64   `parquet:"count"`
	Score float64 `parquet:"score"`
	Note  *string `parquet:"note,optional"`
}

func parquetGraph(t *testing.T, opts ...dsl.ParquetOption) *dsl.Graph {
	t.Helper()
	g, err := dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[row]()).
		Apply("batch", dsl.Batch[row](3, time.Second)).
		Apply("parquet", dsl.ParquetSerializer[row](opts...)).
		Sink("out", dsl.DevNullSink[[]byte]()).
		Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// A batch becomes one Parquet file whose schema comes from the struct
// and whose rows, read back, are the batch's, with its compression.
func TestParquetSerializerRoundTrip(t *testing.T) {
	note := "hi"
	rows := []row{{User: "a", Count: 1, Score: 0.5}, {User: "b", Count: 2, Score: 1.5, Note: &note}, {User: "c", Count: 3}}
	for _, tc := range []struct {
		opts  []dsl.ParquetOption
		codec format.CompressionCodec
	}{
		{nil, format.Snappy},
		{[]dsl.ParquetOption{dsl.ParquetCompression("zstd")}, format.Zstd},
		{[]dsl.ParquetOption{dsl.ParquetCompression("uncompressed")}, format.Uncompressed},
	} {
		var out []dsl.Any
		err := parquetGraph(t, tc.opts...).Node("parquet").Process(dsl.Any{Payload: rows, Key: []byte("k")}, func(m dsl.Any) { out = append(out, m) })
		if err != nil || len(out) != 1 {
			t.Fatalf("Process: %v, %d outputs", err, len(out))
		}
		data, ok := out[0].Payload.([]byte)
		if !ok || string(out[0].Key) != "k" {
			t.Fatalf("output %T key %q", out[0].Payload, out[0].Key)
		}
		got, err := parquet.Read[row](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[0].User != "a" || got[1].Note == nil || *got[1].Note != "hi" || got[2].Count != 3 || got[2].Note != nil {
			t.Errorf("rows read back %+v", got)
		}
		f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for _, c := range f.Schema().Fields() {
			cols = append(cols, c.Name())
		}
		if !slices.Equal(cols, []string{"user", "count", "score", "note"}) {
			t.Errorf("columns %v", cols)
		}
		if c := f.Metadata().RowGroups[0].Columns[0].MetaData.Codec; c != tc.codec {
			t.Errorf("codec %v, want %v", c, tc.codec)
		}
	}
}

func TestParquetSerializerProblems(t *testing.T) {
	_, err := dsl.StreamingSource("in", "events").
		Apply("batch", dsl.Batch[[]byte](3, 0)).
		Apply("bytes", dsl.ParquetSerializer[[]byte]()).
		Sink("out", dsl.DevNullSink[[]byte]()).
		Build()
	if err == nil || !strings.Contains(err.Error(), "parquet rows must be structs; got []uint8") {
		t.Errorf("Build: %v", err)
	}
	_, err = dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[row]()).
		Apply("batch", dsl.Batch[row](3, 0)).
		Apply("lzo", dsl.ParquetSerializer[row](dsl.ParquetCompression("lzo"))).
		Sink("out", dsl.DevNullSink[[]byte]()).
		Build()
	if err == nil || !strings.Contains(err.Error(), `parquet compression "lzo" is not supported; use one of brotli, gzip, lz4, snappy, uncompressed, zstd`) {
		t.Errorf("Build: %v", err)
	}
}
