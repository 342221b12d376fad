package dsl_test

import (
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/streams-dev/streams/dsl"
)

func TestWithDecoding(t *testing.T) {
	g := dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Parser[codecEvent]()).
		Sink("out", dsl.DevNullSink[codecEvent]()).MustBuild()
	n := g.Node("parse")
	if !n.Decodes() || g.Node("src").Decodes() {
		t.Fatal("Decodes")
	}
	schema := []byte(`{"required":["type"]}`)
	m, err := n.WithDecoding(dsl.Msgpack, schema)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := msgpack.Marshal(map[string]any{"type": "a"})
	if out, err := run(t, m, dsl.Any{Payload: raw}); err != nil || out[0].Payload.(codecEvent).Type != "a" {
		t.Errorf("msgpack: %v %v", out, err)
	}
	raw, _ = msgpack.Marshal(map[string]any{"value": 1})
	if _, err := run(t, m, dsl.Any{Payload: raw}); err == nil || !strings.Contains(err.Error(), "schema validation") {
		t.Errorf("schema: %v", err)
	}
	// n itself is unchanged.
	if _, err := run(t, n, dsl.Any{Payload: []byte(`{"value":1}`)}); err != nil {
		t.Errorf("original: %v", err)
	}
	if _, err := g.Node("src").WithDecoding(dsl.JSON, nil); err == nil {
		t.Error("a source rebound")
	}
}

func TestWithDecodingConflicts(t *testing.T) {
	g := dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Parser[codecEvent](dsl.WithCodec(dsl.JSON), dsl.WithJSONSchema([]byte(`{}`)))).
		Sink("out", dsl.DevNullSink[codecEvent]()).MustBuild()
	n := g.Node("parse")
	if _, err := n.WithDecoding(dsl.JSON, nil); err != nil {
		t.Errorf("the same codec: %v", err)
	}
	_, err := n.WithDecoding(dsl.Msgpack, []byte(`{}`))
	for _, want := range []string{"step parse: its code sets codec json, the config msgpack", "its code sets a JSON Schema"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	g = dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Parser[codecEvent]()).
		Sink("out", dsl.DevNullSink[codecEvent]()).MustBuild()
	for _, bad := range []string{`{"type": 5}`, ``, `{`} {
		if _, err := g.Node("parse").WithDecoding(0, []byte(bad)); err == nil || !strings.Contains(err.Error(), "step parse: json schema") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
