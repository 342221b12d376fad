package dsl_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/streams-dev/streams/dsl"
)

type codecEvent struct {
	Type  string `json:"type"`
	Value int    `json:"value"`
}

// roundTrip serializes ev with codec c, then parses it back.
func roundTrip[T any](t *testing.T, c dsl.Codec, ev T) (T, []byte) {
	t.Helper()
	g := dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Parser[T](dsl.WithCodec(c))).
		Apply("ser", dsl.Serializer[T](dsl.WithCodec(c))).
		Sink("out", dsl.DevNullSink[[]byte]()).MustBuild()
	enc, err := run(t, g.Node("ser"), dsl.Any{Payload: ev, Key: []byte("k")})
	if err != nil || len(enc) != 1 || string(enc[0].Key) != "k" {
		t.Fatalf("%v serialize: %v %v", c, enc, err)
	}
	raw := enc[0].Payload.([]byte)
	dec, err := run(t, g.Node("parse"), dsl.Any{Payload: raw})
	if err != nil || len(dec) != 1 {
		t.Fatalf("%v parse: %v %v", c, dec, err)
	}
	return dec[0].Payload.(T), raw
}

func TestCodecsRoundTrip(t *testing.T) {
	ev := codecEvent{Type: "click", Value: 7}
	for _, c := range []dsl.Codec{dsl.JSON, dsl.Msgpack} {
		if got, _ := roundTrip(t, c, ev); got != ev {
			t.Errorf("%v: got %+v, want %+v", c, got, ev)
		}
	}
	pb, raw := roundTrip(t, dsl.Protobuf, wrapperspb.String("hi"))
	if pb.GetValue() != "hi" {
		t.Errorf("protobuf: got %v", pb)
	}
	if want, _ := proto.Marshal(wrapperspb.String("hi")); string(raw) != string(want) {
		t.Errorf("protobuf bytes %x, want %x", raw, want)
	}
}

// A msgpack payload written by another program with the json tag names
// decodes into the struct.
func TestMsgpackUsesJSONTags(t *testing.T) {
	raw, err := msgpack.Marshal(map[string]any{"type": "view", "value": 3})
	if err != nil {
		t.Fatal(err)
	}
	g := dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Parser[codecEvent](dsl.WithCodec(dsl.Msgpack))).
		Sink("out", dsl.DevNullSink[codecEvent]()).MustBuild()
	out, err := run(t, g.Node("parse"), dsl.Any{Payload: raw})
	if err != nil || out[0].Payload != (codecEvent{Type: "view", Value: 3}) {
		t.Fatalf("got %v %v", out, err)
	}
	for _, bad := range [][]byte{{0xc1}, append(raw, 0x01), []byte(`{"type":"view"}`)} {
		if _, err := run(t, g.Node("parse"), dsl.Any{Payload: bad}); err == nil || !strings.Contains(err.Error(), "invalid msgpack") {
			t.Errorf("%x: got %v", bad, err)
		}
	}
}

func TestMsgpackJSONSchema(t *testing.T) {
	schema := []byte(`{"type":"object","required":["type"],"properties":{"value":{"type":"integer","minimum":0}}}`)
	g := dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Parser[codecEvent](dsl.WithCodec(dsl.Msgpack), dsl.WithJSONSchema(schema))).
		Sink("out", dsl.DevNullSink[codecEvent]()).MustBuild()
	ok, _ := msgpack.Marshal(map[string]any{"type": "a", "value": 1})
	if _, err := run(t, g.Node("parse"), dsl.Any{Payload: ok}); err != nil {
		t.Errorf("valid: %v", err)
	}
	for _, bad := range []map[string]any{{"value": 1}, {"type": "a", "value": -1}, {"type": "a", "value": 1.5}} {
		raw, _ := msgpack.Marshal(bad)
		if _, err := run(t, g.Node("parse"), dsl.Any{Payload: raw}); err == nil || !strings.Contains(err.Error(), "schema validation") {
			t.Errorf("%v: got %v", bad, err)
		}
	}
}

func TestProtobufInvalid(t *testing.T) {
	g := dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Parser[*wrapperspb.StringValue](dsl.WithCodec(dsl.Protobuf))).
		Sink("out", dsl.DevNullSink[*wrapperspb.StringValue]()).MustBuild()
	if _, err := run(t, g.Node("parse"), dsl.Any{Payload: []byte{0xff, 0xff}}); err == nil || !strings.Contains(err.Error(), "invalid protobuf") {
		t.Errorf("got %v", err)
	}
}

func TestCodecBuildErrors(t *testing.T) {
	_, err := dsl.StreamingSource("src", "in").
		Apply("p1", dsl.Parser[codecEvent](dsl.WithCodec(dsl.Protobuf))).
		Apply("s1", dsl.Serializer[codecEvent](dsl.WithCodec(dsl.Protobuf))).
		Apply("p2", dsl.Parser[*wrapperspb.StringValue](dsl.WithCodec(dsl.Protobuf), dsl.WithJSONSchema([]byte(`{}`)))).
		Apply("s2", dsl.Serializer[*wrapperspb.StringValue](dsl.WithCodec(dsl.Codec(9)))).
		Sink("out", dsl.DevNullSink[[]byte]()).Build()
	for _, want := range []string{
		`step "p1": the protobuf codec needs a proto.Message (a generated message pointer); dsl_test.codecEvent is not one`,
		`step "s1": the protobuf codec needs a proto.Message`,
		`step "p2": a JSON Schema applies to the json and msgpack codecs, not to protobuf`,
		`step "s2": unknown codec Codec(9)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func TestParseCodec(t *testing.T) {
	for _, name := range dsl.CodecNames {
		c, err := dsl.ParseCodec(name)
		if err != nil || c.String() != name {
			t.Errorf("%s: %v %v", name, c, err)
		}
	}
	if _, err := dsl.ParseCodec("avro"); err == nil {
		t.Error("avro accepted")
	}
}

func TestSerializerRejects(t *testing.T) {
	g := dsl.StreamingSource("src", "in").
		Apply("m", dsl.Map(func([]byte) (any, error) { return nil, nil })).
		Apply("ser", dsl.Serializer[any]()).
		Sink("out", dsl.DevNullSink[[]byte]()).MustBuild()
	_, err := run(t, g.Node("ser"), dsl.Any{Payload: make(chan int)})
	var inv *dsl.InvalidError
	if err == nil || !reflect.DeepEqual(reflect.TypeOf(err), reflect.TypeOf(inv)) || !strings.Contains(err.Error(), "serialize:") {
		t.Errorf("got %v", err)
	}
}

// FuzzParserCodecs: whatever the bytes, a parser of each codec either
// decodes them or rejects the message with an error; it never panics
// (Node.Process would turn a panic into a rejection, hiding it).
func FuzzParserCodecs(f *testing.F) {
	ok, _ := msgpack.Marshal(map[string]any{"type": "a", "value": 1})
	pb, _ := proto.Marshal(wrapperspb.String("x"))
	for _, seed := range [][]byte{ok, pb, []byte(`{"type":"a"}`), {0xc1}, nil} {
		f.Add(seed)
	}
	schema := []byte(`{"required":["type"]}`)
	g := dsl.StreamingSource("src", "in").
		Apply("json", dsl.Parser[codecEvent](dsl.WithJSONSchema(schema))).
		Apply("ser", dsl.Serializer[codecEvent]()).
		Apply("msgpack", dsl.Parser[codecEvent](dsl.WithCodec(dsl.Msgpack), dsl.WithJSONSchema(schema))).
		Apply("ser2", dsl.Serializer[codecEvent]()).
		Apply("protobuf", dsl.Parser[*wrapperspb.StringValue](dsl.WithCodec(dsl.Protobuf))).
		Sink("out", dsl.DevNullSink[*wrapperspb.StringValue]()).MustBuild()
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, step := range []string{"json", "msgpack", "protobuf"} {
			_, err := run(t, g.Node(step), dsl.Any{Payload: raw})
			if err != nil && strings.Contains(err.Error(), "panic") {
				t.Errorf("%s: %v", step, err)
			}
		}
	})
}
