package localrunner_test

import (
	"context"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/blob"
	"github.com/streams-dev/streams/io/blob/blobtest"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

func blobPipeline(t *testing.T, bucket, group string, bb beamtranslate.BlobBinding, brokers []string) beamtranslate.Bindings {
	t.Helper()
	return beamtranslate.Bindings{
		Source: beamtranslate.SourceBinding{Client: kafka.ClientConfig{Brokers: brokers}, Topic: "in",
			Group: group, StartOffset: kafka.StartEarliest, IdleDelay: 50 * time.Millisecond},
		Blobs: map[string]beamtranslate.BlobBinding{"archive": bb},
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
			bb := beamtranslate.BlobBinding{Bucket: bucket, ObjectName: "out/{partition}/{offset}-{seq}.txt", MaxMessages: 5}
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
	p, err := beamtranslate.Translate("blob-fail", g, blobPipeline(t, bucket, "blob-fail", beamtranslate.BlobBinding{Bucket: bucket, MaxMessages: 1}, c.ListenAddrs()))
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
