package engine

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"

	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// A queued batch with values is saved encoded: its elements not yet
// taken, then its values, as the coder writes them, with its hold and
// arrival; the encoded bytes it shares with other readers are not
// touched.
func TestValuesSavedEncoded(t *testing.T) {
	s := &stageState{spec: &plan.Stage{ID: "g", Kind: plan.KindGroup, Group: &plan.Group{Coder: coder.NewW(kvCoder(), coder.NewGlobalWindow())}}}
	b := kvs(t, 7, []string{"a", "b", "c"}, []int64{1, 2, 3})
	b.arrival, b.next = 5, 1 // a bundle took "a"
	shared := bytes.Clone(b.data)
	for i, k := range []string{"d", "e"} {
		key := append(binary.AppendUvarint(nil, uint64(len(k))), k...)
		b.vals = append(b.vals, group.Value{TS: 7, Windows: window.SingleGlobalWindow, Key: key, V: int64(4 + i)})
	}
	b.enc = func(dst []byte, v any) ([]byte, error) {
		var w bytes.Buffer
		err := coder.EncodeVarInt(v.(int64), &w)
		return append(dst, w.Bytes()...), err
	}
	orig := b.data
	if n := b.remaining(); n != 4 {
		t.Fatalf("%d elements remain, want 4", n)
	}
	if err := s.encodeValues(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(orig, shared) {
		t.Error("encoding the values changed the batch's shared bytes")
	}
	got, err := decodeQueued(encodeQueued(b))
	if err != nil {
		t.Fatal(err)
	}
	keys, vals := decodeKVs(t, got)
	if !slices.Equal(keys, []string{"b", "c", "d", "e"}) || !slices.Equal(vals, []int64{2, 3, 4, 5}) || got.hold != 7 || got.arrival != 5 {
		t.Errorf("saved %v %v hold %v arrival %v; want [b c d e] [2 3 4 5], 7, 5", keys, vals, got.hold, got.arrival)
	}
	if len(b.vals) != 0 || b.remaining() != 4 {
		t.Errorf("after encoding: %d values, %d elements remain; want 0 and 4", len(b.vals), b.remaining())
	}
}
