package beamtranslate

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/observe"
)

// TestBatchParserItemsToDLQ: a BatchParser after a Batch sends its valid
// items on as one batch and each invalid one to the dead-letter queue as
// a record of its own: the item as the value, the batch's key, the
// step's name and the item's cause; its metrics count one error per
// item.
func TestBatchParserItemsToDLQ(t *testing.T) {
	const id = "batch-parser"
	g := dsl.StreamingSource("in", "events").
		Apply("batch", dsl.Batch[[]byte](4, time.Second, dsl.BatchPerKey())).
		Apply("parse", dsl.BatchParser[ev]()).
		Apply("ser", dsl.Serializer[[]ev]()).
		Sink("out", dsl.StreamSink("parsed")).MustBuild()
	b := bindings("out")
	b.Source.DLQ = &DLQBinding{Client: b.Source.Client, Topic: "dlq"}
	p, err := Translate(id, g, b)
	if err != nil {
		t.Fatal(err)
	}
	fns, _ := doFns(t, p)
	want := chain{Pipeline: id, Steps: []string{"parse", "ser"}, Sink: &recordSink{Step: "out", Topic: "out-topic"}}
	if got := fns["sinkStepFn"]; len(got) != 1 || !reflect.DeepEqual(got[0].(*sinkStepFn).chain, want) {
		t.Fatalf("sinkStepFn: %#v, want one with %+v", got, want)
	}
	t.Cleanup(observe.Register(id, observe.New(id, "local", g)))
	fn := &sinkStepFn{want}
	mustSetup(t, fn)
	var r run
	batch := [][]byte{[]byte(`{"type":"a"}`), []byte(`{oops`), []byte(`{"type":"b"}`), []byte(`[1]`)}
	fn.ProcessElement(mtime.FromTime(time.Unix(1, 0)), element{Payload: batch, Key: []byte("k")}, r.emitRecord, r.reject)
	fn.FinishBundle(context.Background(), nil, nil)

	if len(r.plain) != 1 {
		t.Fatalf("outputs %+v", r.plain)
	}
	var got []ev
	if err := json.Unmarshal(r.plain[0].E.Payload.([]byte), &got); err != nil || len(got) != 2 || got[0].Type != "a" || got[1].Type != "b" {
		t.Errorf("valid items %s: %v", r.plain[0].E.Payload, err)
	}
	if len(r.bad) != 2 {
		t.Fatalf("rejected %+v", r.bad)
	}
	for i, w := range []struct{ value, cause string }{{`{oops`, "item 1: invalid json"}, {`[1]`, "item 3: invalid json"}} {
		v := r.bad[i]
		if v.Step != "parse" || string(v.Origin.Value) != w.value || string(v.Origin.Key) != "k" ||
			!strings.HasPrefix(v.Error, "step parse: invalid message: "+w.cause) {
			t.Errorf("rejected %d: %+v", i, v)
		}
	}
	if st := observe.Lookup(id).Stats().Steps["parse"]; st.In != 1 || st.Out != 1 || st.Errors != 2 {
		t.Errorf("metrics of the parser: %+v", st)
	}
}
