package localrunner_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/blob"
	"github.com/streams-dev/streams/io/blob/blobtest"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

func blobPipeline(t *testing.T, bucket, group string, v component.Values, brokers []string) beamtranslate.Bindings {
	t.Helper()
	return beamtranslate.Bindings{
		Source: beamtranslate.SourceBinding{Client: kafka.ClientConfig{Brokers: brokers}, Topic: "in",
			Group: group, StartOffset: kafka.StartEarliest, IdleDelay: 50 * time.Millisecond},
		Values: map[string]component.Values{"archive": v},
	}
}

// objects reads every object of bucket: key -> content.
func objects(t *testing.T, bucket string) map[string]string {
	t.Helper()
	ctx := context.Background()
	b, err := blob.Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	out := map[string]string{}
	it := b.List(nil)
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := b.ReadAll(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		out[o.Key] = string(data)
	}
}

// TestBlobSinkObjectsBeforeCommit: 20 messages over two partitions into
// objects of 5 (the file driver and GCS, against a GCS protocol server):
// when the group has committed the end of the input, the four objects
// are there, named by the template from each first message's partition
// and offset and the partition's sequence, and hold every message once,
// in partition order.
func TestBlobSinkObjectsBeforeCommit(t *testing.T) {
	for _, driver := range []string{"file", "gcs"} {
		t.Run(driver, func(t *testing.T) {
			c, cl, adm := kafkaCluster(t)
			produce(t, cl, "v", 20)
			end := ends(t, adm, "in")
			bucket := "file://" + t.TempDir()
			if driver == "gcs" {
				bucket = blobtest.GCS(t, nil)
			}
			g := dsl.StreamingSource("in", "in").Sink("archive", dsl.BlobSink("unused", dsl.BlobDelimiter([]byte("\n")))).MustBuild()
			group := "blob-" + driver
			bb := component.Values{"bucket": component.StringValue(bucket), "object_name": component.StringValue("out/{partition}/{offset}-{seq}.txt"),
				"batch_size": component.IntValue(5)}
			p, err := beamtranslate.Translate(group, g, blobPipeline(t, bucket, group, bb, c.ListenAddrs()))
			if err != nil {
				t.Fatal(err)
			}
			runToCommitted(t, p, adm, group, end, localrunner.WithKafkaCommit(50*time.Millisecond, 1))
			got := objects(t, bucket)
			var keys []string
			for k := range got {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			want := []string{"out/0/0-000000.txt", "out/0/5-000001.txt", "out/1/0-000000.txt", "out/1/5-000001.txt"}
			if !slices.Equal(keys, want) {
				t.Fatalf("objects %v, want %v", keys, want)
			}
			for i, k := range want {
				var lines []string
				for j := range 5 {
					lines = append(lines, "v"+strconv.Itoa(2*(5*(i%2)+j)+i/2))
				}
				if w := strings.Join(lines, "\n") + "\n"; got[k] != w {
					t.Errorf("%s: %q, want %q", k, got[k], w)
				}
			}
		})
	}
}

// TestBlobSinkFailedWriteStopsCommits: a store that answers every upload
// with 503 makes the write give up after its retries; the pipeline
// fails, with the cause, and commits nothing past the message whose
// object could not be written.
func TestBlobSinkFailedWriteStopsCommits(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	produce(t, cl, "v", 4)
	fail, seen := blobtest.FailFirst(1 << 30)
	bucket := blobtest.GCS(t, fail)
	g := dsl.StreamingSource("in", "in").Sink("archive", dsl.BlobSink(bucket)).MustBuild()
	p, err := beamtranslate.Translate("blob-fail", g, blobPipeline(t, bucket, "blob-fail", component.Values{"bucket": component.StringValue(bucket), "batch_size": component.IntValue(1)}, c.ListenAddrs()))
	if err != nil {
		t.Fatal(err)
	}
	r, err := localrunner.New(localrunner.WithKafkaCommit(10*time.Millisecond, 1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = r.Run(ctx, p)
	t.Logf("Run: %v; %d uploads tried", err, seen.Load())
	if err == nil || !strings.Contains(err.Error(), "blob sink archive") || !strings.Contains(err.Error(), "attempt") {
		t.Fatalf("Run: %v; want the blob sink's write error", err)
	}
	if n := seen.Load(); n < int64(blob.DefaultRetry.Attempts) {
		t.Errorf("%d uploads tried, want at least %d", n, blob.DefaultRetry.Attempts)
	}
	if cm := commits(context.Background(), adm, "blob-fail"); cm[0] != 0 || cm[1] != 0 {
		t.Errorf("committed %v after a failed write, want nothing", cm)
	}
	if got := objects(t, bucket); len(got) != 0 {
		t.Errorf("objects %v after failed writes", got)
	}
}

type parquetRow struct {
	User  string `json:"user" parquet:"user"`
	Count int64  `json:"count" parquet:"count"`
}

// TestBlobSinkParquetBatches is the archive Sentry users build: JSON
// parsed, batched by 5 per partition, each batch a Parquet file, each
// file an object (file driver). When the group has committed the end of
// the input, the four files read back as the 20 rows.
func TestBlobSinkParquetBatches(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	var rs []*kgo.Record
	for i := range 20 {
		rs = append(rs, &kgo.Record{Topic: "in", Partition: int32(i % 2), Value: fmt.Appendf(nil, `{"user":"u%d","count":%d}`, i, i)})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	end := ends(t, adm, "in")
	bucket := "file://" + t.TempDir()
	g := dsl.StreamingSource("in", "in").
		Apply("parse", dsl.Parser[parquetRow]()).
		Apply("batch", dsl.Batch[parquetRow](5, 0)).
		Apply("parquet", dsl.ParquetSerializer[parquetRow]()).
		Sink("archive", dsl.BlobSink(bucket)).
		MustBuild()
	binding := func(name string) beamtranslate.Bindings {
		return blobPipeline(t, bucket, "blob-parquet", component.Values{"bucket": component.StringValue(bucket), "object_name": component.StringValue(name), "batch_size": component.IntValue(1)}, c.ListenAddrs())
	}
	// Batches have no source position: without {random} the objects of
	// two partitions' batches would take the same names.
	_, err := beamtranslate.Translate("blob-parquet", g, binding("{partition}/{seq}.parquet"))
	if err == nil || !strings.Contains(err.Error(), "made by batch step batch and have no source position") {
		t.Fatalf("Translate: %v; want the name collision refused", err)
	}
	p, err := beamtranslate.Translate("blob-parquet", g, binding("{date}/{random}.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	runToCommitted(t, p, adm, "blob-parquet", end, localrunner.WithKafkaCommit(50*time.Millisecond, 1))
	objs := objects(t, bucket)
	var users []string
	for key, data := range objs {
		rows, err := parquet.Read[parquetRow](strings.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if len(rows) != 5 {
			t.Errorf("%s: %d rows, want 5", key, len(rows))
		}
		for _, r := range rows {
			if r.User != "u"+strconv.Itoa(int(r.Count)) {
				t.Errorf("%s: row %+v", key, r)
			}
			users = append(users, r.User)
		}
	}
	t.Logf("objects: %v", slices.Sorted(maps.Keys(objs)))
	if len(objs) != 4 || len(users) != 20 || len(slices.Compact(slices.Sorted(slices.Values(users)))) != 20 {
		t.Errorf("%d objects, %d rows (%v), want 4 objects of the 20 rows", len(objs), len(users), users)
	}
}
