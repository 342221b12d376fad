package beamtranslate

import (
	"maps"
	"testing"
)

// A chain carries the bindings of its own steps only, and none (nil, not
// an empty map: its DoFn encodes it) when it has none.
func TestBindingsOf(t *testing.T) {
	bs := map[string]DecoderBinding{"parse": {Codec: "msgpack"}, "other": {Codec: "json"}}
	got := bindingsOf(bs, []string{"in", "parse", "count"})
	if want := map[string]DecoderBinding{"parse": {Codec: "msgpack"}}; !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := bindingsOf(bs, []string{"in", "count"}); got != nil {
		t.Errorf("a chain without bound steps got %v, want nil", got)
	}
}
