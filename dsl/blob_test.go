package dsl_test

import (
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/dsl"
)

func TestBlobSinkDefaultsAndOptions(t *testing.T) {
	g := dsl.StreamingSource("in", "events").
		Broadcast("copy",
			dsl.Branch[[]byte]("a").Sink("one", dsl.BlobSink("arroyo-artifacts")),
			dsl.Branch[[]byte]("b").Sink("many", dsl.BlobSink("s3://b?region=x",
				dsl.BlobBatch(10, 4096, time.Second), dsl.BlobObjectName("x/{seq}"), dsl.BlobDelimiter([]byte("\n"))))).
		MustBuild()
	one := g.Node("one")
	if one.SinkKind() != dsl.SinkBlob || one.Blob() == nil {
		t.Fatalf("sink kind %v, blob %v", one.SinkKind(), one.Blob())
	}
	if b := one.Blob(); b.Bucket() != "arroyo-artifacts" || b.MaxMessages() != 1 || b.MaxBytes() != 0 ||
		b.MaxWait() != 0 || b.ObjectName() != "" || b.Delimiter() != nil {
		t.Errorf("default blob sink %+v: want one message per object, as Sentry's GCSSink", b)
	}
	b := g.Node("many").Blob()
	if b.MaxMessages() != 10 || b.MaxBytes() != 4096 || b.MaxWait() != time.Second ||
		b.ObjectName() != "x/{seq}" || string(b.Delimiter()) != "\n" {
		t.Errorf("blob sink %+v", b)
	}
	if g.Node("in").Blob() != nil {
		t.Error("a source has a blob")
	}
}

func TestBlobSinkProblems(t *testing.T) {
	_, err := dsl.StreamingSource("in", "events").
		Broadcast("copy",
			dsl.Branch[[]byte]("a").Sink("nobucket", dsl.BlobSink("")),
			dsl.Branch[[]byte]("b").Sink("nobound", dsl.BlobSink("b", dsl.BlobBatch(0, 0, 0))),
			dsl.Branch[[]byte]("c").Sink("negative", dsl.BlobSink("b", dsl.BlobBatch(-1, 0, time.Second)))).
		Build()
	for _, want := range []string{
		`blob sink "nobucket": no bucket`,
		`blob sink "nobound": a batch needs a message count, a size or a wait`,
		`blob sink "negative": batch bounds must not be negative; got -1 messages`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Build: %v; want %q", err, want)
		}
	}
}
