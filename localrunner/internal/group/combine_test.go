package group

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"

	"github.com/streams-dev/streams/state"
	"github.com/streams-dev/streams/state/statetest"
)

// sumCombiner sums varint values into an int64 accumulator, encoded as a
// varint. It counts its calls, and fails on the value failOn.
type sumCombiner struct {
	adds, merges int
	failOn       int64
}

func (c *sumCombiner) Add(acc any, first bool, value []byte) (any, error) {
	c.adds++
	v, err := coder.DecodeVarInt(bytes.NewReader(value))
	if err != nil {
		return nil, err
	}
	if c.failOn != 0 && v == c.failOn {
		return nil, fmt.Errorf("%d: %w", v, errRefused)
	}
	if first {
		return v, nil
	}
	return acc.(int64) + v, nil
}

func (c *sumCombiner) Merge(a, b any) (any, error) {
	c.merges++
	return a.(int64) + b.(int64), nil
}

func (c *sumCombiner) Encode(acc any, w *bytes.Buffer) error {
	return coder.EncodeVarInt(acc.(int64), w)
}
func (c *sumCombiner) Decode(r io.Reader) (any, error) { return coder.DecodeVarInt(r) }

// sums renders panes as "key[start:end)@ts=sum pane": a grouping buffer's
// (KV<string, Iterable<int64>>, values summed) or a combining one's
// (KV<string, int64>).
func sums(t *testing.T, wc *coder.WindowCoder, res *Result[int], combined bool) []string {
	t.Helper()
	vc := coder.NewI(coder.NewVarInt())
	if combined {
		vc = coder.NewVarInt()
	}
	dec := exec.MakeElementDecoder(coder.NewW(coder.NewKV([]*coder.Coder{coder.NewString(), vc}), wc))
	var out []string
	start := 0
	for _, end := range res.Ends {
		fv, err := dec.Decode(bytes.NewReader(res.Data[start:end]))
		if err != nil {
			t.Fatal(err)
		}
		start = end
		var sum int64
		switch v := fv.Elm2.(type) {
		case int64:
			sum = v
		case []int64:
			for _, x := range v {
				sum += x
			}
		}
		ws := "[global]"
		if iw, ok := fv.Windows[0].(window.IntervalWindow); ok {
			ws = fmt.Sprintf("[%d:%d)", iw.Start.Milliseconds(), iw.End.Milliseconds())
		}
		out = append(out, fmt.Sprintf("%v%s@%d=%d %s", fv.Elm, ws, fv.Timestamp.Milliseconds(), sum, paneString(fv.Pane)))
	}
	return out
}

// A combining buffer emits, pane for pane, what a grouping buffer emits
// with its values combined: same panes in the same order, same pane
// infos, timestamps, holds and drops; sessions merge their accumulators.
// It keeps one accumulator per pane, so Add runs once per element and
// Merge only when sessions merge.
func TestCombiningMatchesGrouping(t *testing.T) {
	seed := statetest.Seed(t)
	var stream uint64
	strategies := func(win windowing) []Strategy {
		var ss []Strategy
		for _, acc := range []bool{false, true} {
			for _, lateness := range []int64{0, 1500} {
				ss = append(ss, Strategy{Merging: win.merging, AllowedLateness: lateness, Accumulating: acc})
			}
			if !win.merging {
				for _, tr := range differentialTriggers {
					ss = append(ss, Strategy{AllowedLateness: 1500, Accumulating: acc, Trigger: tr})
				}
			}
		}
		return ss
	}
	var panes, merges int
	for _, win := range windowings {
		for _, st := range strategies(win) {
			stream++
			t.Run(fmt.Sprintf("%s/%v/accumulating=%v/lateness=%d", win.name, st.Trigger, st.Accumulating, st.AllowedLateness), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, stream))
				c := &sumCombiner{}
				plain, comb := newBuffer(t, win.wc, st), newBuffer(t, win.wc, st, c)
				now := time.UnixMilli(1_000_000)
				assigned, dropped := 0, 0
				wm := int64(0)
				for i := range 60 {
					next := wm + r.Int64N(800)
					var in []Input[int]
					arrival := wm
					for range r.IntN(4) {
						arrival = min(next, arrival+r.Int64N(300))
						var es []elm
						for range 1 + r.IntN(8) {
							ts := max(0, wm-st.AllowedLateness-1500+r.Int64N(st.AllowedLateness+3500))
							es = append(es, elm{string(rune('a' + r.IntN(5))), 1 + r.Int64N(100), ts, win.assign(ts)})
							assigned += len(es[len(es)-1].ws)
						}
						in = append(in, input(t, win.wc, mtime.Time(arrival), []int{i}, es...))
					}
					wm = next
					if i == 59 {
						wm = int64(mtime.MaxTimestamp)
					}
					now = now.Add(time.Duration(r.Int64N(400)) * time.Millisecond)
					want, err := plain.Process(in, mtime.Time(wm), now)
					if err != nil {
						t.Fatal(err)
					}
					got, err := comb.Process(in, mtime.Time(wm), now)
					if err != nil {
						t.Fatal(err)
					}
					check(t, fmt.Sprintf("step %d", i), sums(t, win.wc, got, true), sums(t, win.wc, want, false)...)
					if got.Hold != want.Hold || got.Next != want.Next || got.Pending != want.Pending || got.Dropped != want.Dropped ||
						got.MinTS != want.MinTS || !sameTags(got.Tags, want.Tags) || !sameTags(got.Held, want.Held) || !sameTags(got.Released, want.Released) {
						t.Fatalf("step %d: results differ:\n got %+v\nwant %+v", i, got, want)
					}
					dropped += want.Dropped
					panes += len(want.Ends)
				}
				// Each element is added once to each of its windows, but
				// where it is dropped (late, or its pane's trigger finished).
				if c.adds != assigned-dropped {
					t.Errorf("%d Adds for %d elements in windows, %d dropped", c.adds, assigned, dropped)
				}
				if !win.merging && c.merges != 0 {
					t.Errorf("%d Merges without sessions", c.merges)
				}
				merges += c.merges
			})
		}
	}
	if !t.Failed() && (panes == 0 || merges == 0) {
		t.Errorf("the scenarios missed a case: %d panes, %d session merges", panes, merges)
	}
}

// sameTags compares tag lists in any order (windows keep them in maps).
func sameTags(a, b []int) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// A combining buffer's checkpoints hold accumulators: a restored one
// continues byte for byte (the checkpoint differential of
// TestCheckpointRestoreIsExact, combining), and what it stores does not
// grow with the elements.
func TestCombiningCheckpointRestoreIsExact(t *testing.T) {
	seed := statetest.Seed(t)
	var stream uint64
	var restores int
	for _, win := range windowings {
		for _, acc := range []bool{false, true} {
			st := Strategy{Merging: win.merging, AllowedLateness: 1500, Accumulating: acc}
			if !win.merging && acc {
				st.Trigger = differentialTriggers[3]
			}
			stream++
			t.Run(fmt.Sprintf("%s/%v/accumulating=%v", win.name, st.Trigger, acc), func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 1000+stream))
				_, _, n := runDifferential(t, r, win, st, &sumCombiner{})
				restores += n
			})
		}
	}
	if !t.Failed() && restores == 0 {
		t.Error("no restore")
	}
}

func TestCombiningStoresOneAccumulatorPerPane(t *testing.T) {
	wc := coder.NewIntervalWindow()
	s := statetest.Open(t, t.TempDir())
	defer s.Close()
	prefix := state.NewKey(state.NSGroup).Text("stage-1")
	b := newBuffer(t, wc, Strategy{}, &sumCombiner{})
	w := []typex.Window{iw(0, 10000)}
	var sizes []int
	for i := range 4 {
		var es []elm
		for j := range 500 {
			es = append(es, elm{string(rune('a' + j%2)), 1, 1000, w})
		}
		if _, err := b.Process([]Input[int]{input(t, wc, 0, nil, es...)}, 0, time.Time{}); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, checkpoint(t, s, b, prefix))
		if i > 0 && sizes[i] > sizes[1] {
			t.Errorf("checkpoint %d wrote %d bytes, the second %d: it grows with the elements", i, sizes[i], sizes[1])
		}
	}
	b = restore(t, s, wc, Strategy{}, prefix, &sumCombiner{})
	res, err := b.Process(nil, mtime.MaxTimestamp, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "restored", sums(t, wc, res, true), "a[0:10000)@9999=1000 ontime#0/0,first,last", "b[0:10000)@9999=1000 ontime#0/0,first,last")
}

var errRefused = errors.New("refused")

// The combiner's errors fail Process, unwrapped.
func TestCombinerErrorFailsProcess(t *testing.T) {
	wc := coder.NewGlobalWindow()
	b := newBuffer(t, wc, Strategy{}, &sumCombiner{failOn: 7})
	_, err := b.Process([]Input[int]{input(t, wc, 0, nil, elm{"a", 1, 0, window.SingleGlobalWindow}, elm{"a", 7, 0, window.SingleGlobalWindow})}, 0, time.Time{})
	if !errors.Is(err, errRefused) {
		t.Fatalf("Process: %v, want the combiner's error", err)
	}
}
