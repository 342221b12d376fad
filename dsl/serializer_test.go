package dsl_test

import (
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/streams-dev/streams/dsl"
)

// WithEncoding remakes a Serializer with the config's codec, leaves the
// original as it was, and refuses a codec the code contradicts, a codec
// the payload cannot take, and a step that is not a Serializer.
func TestWithEncoding(t *testing.T) {
	g := dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Parser[codecEvent]()).
		Apply("ser", dsl.Serializer[codecEvent]()).
		Apply("fixed", dsl.Map(func(b []byte) (codecEvent, error) { return codecEvent{Type: string(b)}, nil })).
		Apply("ser2", dsl.Serializer[codecEvent](dsl.WithCodec(dsl.JSON))).
		Sink("out", dsl.StreamSink("x")).MustBuild()
	n := g.Node("ser")
	if !n.Encodes() || g.Node("parse").Encodes() || g.Node("out").Encodes() {
		t.Fatal("Encodes")
	}
	m, err := n.WithEncoding(dsl.Msgpack)
	if err != nil {
		t.Fatal(err)
	}
	in := dsl.Any{Payload: codecEvent{Type: "a"}}
	out, err := run(t, m, in)
	var e map[string]any
	if err != nil || msgpack.Unmarshal(out[0].Payload.([]byte), &e) != nil || e["type"] != "a" {
		t.Errorf("msgpack: %v %v %v", out, err, e)
	}
	if out, err := run(t, n, in); err != nil || !strings.HasPrefix(string(out[0].Payload.([]byte)), `{"type":"a"`) {
		t.Errorf("original: %v %v", out, err)
	}
	if _, err := g.Node("ser2").WithEncoding(dsl.JSON); err != nil {
		t.Errorf("the same codec: %v", err)
	}
	for _, tc := range []struct {
		step  string
		codec dsl.Codec
		want  string
	}{
		{"ser2", dsl.Msgpack, "step ser2: its code sets codec json, the config msgpack"},
		{"ser", dsl.Protobuf, "step ser: the protobuf codec needs a proto.Message"},
		{"parse", dsl.JSON, `dsl: step "parse" (parser) is not a serializer`},
	} {
		if _, err := g.Node(tc.step).WithEncoding(tc.codec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s with %v: %v, want %q", tc.step, tc.codec, err, tc.want)
		}
	}
}
