package beamtranslate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/observe"
)

// TestDecoderBinding: the deployment config's codec and schema for a
// parser travel in the chain's DoFn, which decodes with them; a binding
// the step cannot take fails the translation.
func TestDecoderBinding(t *testing.T) {
	const id = "decoder-binding"
	g := dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[ev]()).
		Apply("ser", dsl.Serializer[ev]()).
		Sink("out", dsl.StreamSink("parsed")).MustBuild()
	b := bindings("out")
	b.Decoders = map[string]DecoderBinding{"parse": {Codec: "msgpack", Schema: `{"required":["type"]}`}}
	p, err := Translate(id, g, b)
	if err != nil {
		t.Fatal(err)
	}
	fns, _ := doFns(t, p)
	got := fns["recordSinkFn"]
	if len(got) != 1 || got[0].(*recordSinkFn).Decoders["parse"] != b.Decoders["parse"] {
		t.Fatalf("recordSinkFn: %#v", got)
	}
	t.Cleanup(observe.Register(id, observe.New(id, "local", g)))
	fn := got[0].(*recordSinkFn)
	mustSetup(t, fn)
	var r run
	good, _ := msgpack.Marshal(map[string]any{"type": "a"})
	noType, _ := msgpack.Marshal(map[string]any{"n": 1})
	for i, v := range [][]byte{good, noType, []byte(`{"type":"a"}`)} {
		rec := kafka.Record{Topic: "events", Offset: int64(i), Value: v}
		fn.ProcessElement(mtime.FromTime(time.Unix(1, 0)), rec, r.emitRecord, r.reject)
	}
	fn.FinishBundle(context.Background(), nil, nil)
	if len(r.plain) != 1 || string(r.plain[0].E.Payload.([]byte)) != `{"type":"a","n":0}` {
		t.Errorf("outputs %+v", r.plain)
	}
	if len(r.bad) != 2 || !strings.Contains(r.bad[0].Error, "schema validation") || !strings.Contains(r.bad[1].Error, "invalid msgpack") {
		t.Errorf("rejected %+v", r.bad)
	}

	for _, bad := range []map[string]DecoderBinding{
		{"parse": {Codec: "avro"}},
		{"parse": {Schema: `{"type": 5}`}},
		{"ser": {Codec: "json"}},
		{"nope": {Codec: "json"}},
	} {
		b.Decoders = bad
		if _, err := Translate(id, g, b); err == nil {
			t.Errorf("%v: translated", bad)
		}
	}
}
