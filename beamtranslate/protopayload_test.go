package beamtranslate

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/streams-dev/streams/dsl"
)

// A protobuf payload crosses a stage boundary in the protobuf wire
// format, so what encoding/json cannot hold (a Struct's oneof values)
// comes back whole.
func TestProtoPayloadRoundTrip(t *testing.T) {
	g := dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[*structpb.Struct](dsl.WithCodec(dsl.Protobuf))).
		Sink("out", dsl.DevNullSink[*structpb.Struct]()).MustBuild()
	Register("proto-payload", g)
	s, err := structpb.NewStruct(map[string]any{"name": "cpu", "n": 2.5, "tags": []any{"a", true}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeElement(element{Payload: s, Key: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	e, err := decodeElement(b)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := e.Payload.(*structpb.Struct)
	if !ok || !proto.Equal(got, s) || string(e.Key) != "k" {
		t.Errorf("got %v (%T), want %v", e.Payload, e.Payload, s)
	}
}
