package group

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"

	"github.com/streams-dev/streams/state/statetest"
)

// valueSum is a sumCombiner that also adds values (int64s).
type valueSum struct {
	sumCombiner
	values int
}

func (c *valueSum) AddValue(acc any, first bool, v any) (any, error) {
	c.values++
	x := v.(int64)
	if first {
		return x, nil
	}
	return acc.(int64) + x, nil
}

// encodeVarint is valueSum's Input.Encode: the varint coder's encoding.
func encodeVarint(dst []byte, v any) ([]byte, error) {
	var b bytes.Buffer
	err := coder.EncodeVarInt(v.(int64), &b)
	return append(dst, b.Bytes()...), err
}

// asValue is e as a Value.
func asValue(e elm) Value {
	key := binary.AppendUvarint(nil, uint64(len(e.key)))
	return Value{TS: mtime.FromMilliseconds(e.ts), Windows: e.ws, Key: append(key, e.key...), V: e.val}
}

// Values are elements like any other: a buffer given some of its
// elements as values (each element at random) fires, holds, releases and
// drops exactly what a buffer given them all encoded does, and writes the
// values it drops byte for byte as the encoded ones. Each value is added
// once per window it is not dropped from, without being encoded.
func TestValuesMatchEncoded(t *testing.T) {
	seed := statetest.Seed(t)
	var stream uint64
	var values, dropped int
	for _, win := range windowings {
		for _, lateness := range []int64{0, 1500} {
			for _, acc := range []bool{false, true} {
				st := Strategy{Merging: win.merging, AllowedLateness: lateness, Accumulating: acc}
				stream++
				t.Run(fmt.Sprintf("%s/accumulating=%v/lateness=%d", win.name, acc, lateness), func(t *testing.T) {
					r := rand.New(rand.NewPCG(seed, 2000+stream))
					vs := &valueSum{}
					ref, got := newDropping(t, win, st, &sumCombiner{}), newDropping(t, win, st, vs)
					wm := int64(0)
					for i := range 60 {
						next := wm + r.Int64N(800)
						var refIn, in []Input[int]
						arrival := wm
						for range r.IntN(4) {
							arrival = min(next, arrival+r.Int64N(300))
							var enc, asVals []elm
							for range 1 + r.IntN(8) {
								ts := max(0, wm-lateness-1500+r.Int64N(lateness+3500))
								e := elm{string(rune('a' + r.IntN(5))), 1 + r.Int64N(100), ts, win.assign(ts)}
								if r.IntN(2) == 0 {
									enc = append(enc, e)
								} else {
									asVals = append(asVals, e)
								}
							}
							refIn = append(refIn, input(t, win.wc, mtime.Time(arrival), []int{i}, append(slices.Clone(enc), asVals...)...))
							mixed := input(t, win.wc, mtime.Time(arrival), []int{i}, enc...)
							for _, e := range asVals {
								mixed.Values = append(mixed.Values, asValue(e))
							}
							mixed.Encode = encodeVarint
							in = append(in, mixed)
						}
						wm = next
						if i == 59 {
							wm = int64(mtime.MaxTimestamp)
						}
						want, err := ref.Process(refIn, mtime.Time(wm), time.Time{})
						if err != nil {
							t.Fatal(err)
						}
						res, err := got.Process(in, mtime.Time(wm), time.Time{})
						if err != nil {
							t.Fatal(err)
						}
						check(t, fmt.Sprintf("step %d", i), sums(t, win.wc, res, true), sums(t, win.wc, want, true)...)
						if res.Hold != want.Hold || res.Next != want.Next || res.Pending != want.Pending || res.Dropped != want.Dropped ||
							res.Elements != want.Elements || res.MinTS != want.MinTS || !sameTags(res.Held, want.Held) || !sameTags(res.Released, want.Released) {
							t.Fatalf("step %d: results differ:\n got %+v\nwant %+v", i, res, want)
						}
						if !bytes.Equal(res.DroppedData, want.DroppedData) || !slices.Equal(res.DroppedEnds, want.DroppedEnds) ||
							res.DroppedMinTS != want.DroppedMinTS || !sameTags(res.DroppedTags, want.DroppedTags) {
							t.Fatalf("step %d: dropped elements differ:\n got %x %v\nwant %x %v", i, res.DroppedData, res.DroppedEnds, want.DroppedData, want.DroppedEnds)
						}
						dropped += len(want.DroppedEnds)
					}
					values += vs.values
				})
			}
		}
	}
	if !t.Failed() && (values == 0 || dropped == 0) {
		t.Errorf("the scenarios missed a case: %d values added, %d elements dropped", values, dropped)
	}
}

// newDropping is newBuffer keeping what it drops.
func newDropping(t *testing.T, win windowing, s Strategy, c Combiner) *Buffer[int] {
	t.Helper()
	b, err := New[int](Config{Input: coder.NewW(kvCoder, win.wc), Strategy: s, Combiner: c, KeepDropped: true})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// AppendValue writes a value as the windowed KV coder writes the element
// it stands for.
func TestAppendValue(t *testing.T) {
	for _, win := range windowings {
		e := elm{"key", -42, 1234, win.assign(1234)}
		want, _ := encode(t, win.wc, e)
		v := asValue(e)
		got, err := AppendValue([]byte("x"), exec.MakeWindowEncoder(win.wc), encodeVarint, &v, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Errorf("%s: AppendValue wrote %x, the coder %x", win.name, got[1:], want)
		}
	}
}

// A buffer that cannot add values (no ValueCombiner, or a trigger)
// refuses them rather than lose them.
func TestValuesRefused(t *testing.T) {
	win := windowings[1]
	e := elm{"a", 1, 10, win.assign(10)}
	for name, b := range map[string]*Buffer[int]{
		"grouping":  newBuffer(t, win.wc, Strategy{}),
		"combining": newBuffer(t, win.wc, Strategy{}, &sumCombiner{}),
		"triggered": newBuffer(t, win.wc, Strategy{Trigger: differentialTriggers[0]}, &valueSum{}),
	} {
		_, err := b.Process([]Input[int]{{Values: []Value{asValue(e)}, Encode: encodeVarint}}, 0, time.Time{})
		if !errors.Is(err, errValues) {
			t.Errorf("%s: Process: %v, want %v", name, err, errValues)
		}
	}
}
