package group

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"

	"github.com/streams-dev/streams/state"
	"github.com/streams-dev/streams/state/statetest"
)

// checkpoint commits b's checkpoint under prefix and returns the batch's
// size (0: empty).
func checkpoint(t *testing.T, s *state.Store, b *Buffer[int], prefix state.Key) int {
	t.Helper()
	return statetest.Commit(t, s, func(w *state.Batch) error { return b.Checkpoint(w, prefix) })
}

func restore(t *testing.T, s *state.Store, wc *coder.WindowCoder, st Strategy, prefix state.Key, c ...Combiner) *Buffer[int] {
	t.Helper()
	b := newBuffer(t, wc, st, c...)
	if err := b.Restore(s, prefix); err != nil {
		t.Fatal(err)
	}
	return b
}

// keys returns the keys stored under prefix.
func keys(t *testing.T, s *state.Store, prefix state.Key) []string {
	t.Helper()
	var ks []string
	if err := s.Scan(prefix, func(k, _ []byte) error {
		ks = append(ks, fmt.Sprintf("%x", k))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ks
}

// sameResult fails unless the results are byte-identical in what a
// restored buffer must reproduce.
func sameResult(t *testing.T, what string, want, got *Result[int]) {
	t.Helper()
	if !bytes.Equal(want.Data, got.Data) || !slices.Equal(want.Ends, got.Ends) || want.MinTS != got.MinTS ||
		want.Hold != got.Hold || want.Next != got.Next || want.Pending != got.Pending ||
		want.Dropped != got.Dropped || want.Elements != got.Elements || !want.NextProcessing.Equal(got.NextProcessing) {
		t.Fatalf("%s: results differ\nreference: %d panes, MinTS %v Hold %v Next %v Pending %d Dropped %d Elements %d\n restored: %d panes, MinTS %v Hold %v Next %v Pending %d Dropped %d Elements %d",
			what, len(want.Ends), want.MinTS, want.Hold, want.Next, want.Pending, want.Dropped, want.Elements,
			len(got.Ends), got.MinTS, got.Hold, got.Next, got.Pending, got.Dropped, got.Elements)
	}
}

type windowing struct {
	name    string
	wc      *coder.WindowCoder
	merging bool
	assign  func(ts int64) []typex.Window
}

var windowings = []windowing{
	{"global", coder.NewGlobalWindow(), false, func(int64) []typex.Window { return window.SingleGlobalWindow }},
	{"fixed", coder.NewIntervalWindow(), false, func(ts int64) []typex.Window {
		s := ts - ((ts%1000)+1000)%1000
		return []typex.Window{iw(s, s+1000)}
	}},
	{"sliding", coder.NewIntervalWindow(), false, func(ts int64) []typex.Window {
		s := ts - ((ts%500)+500)%500
		return []typex.Window{iw(s-500, s+1000-500), iw(s, s+1000)}
	}},
	{"sessions", coder.NewIntervalWindow(), true, func(ts int64) []typex.Window { return []typex.Window{iw(ts, ts+300)} }},
}

// TestCheckpointRestoreIsExact drives two buffers with the same random
// inputs and watermarks: a reference, and one that is checkpointed at
// random steps and then, at random, thrown away and restored (from a
// store closed and opened again, at times). Elements come on time, late
// within the allowed lateness and late beyond it; after a restore, some
// arrive with a watermark that started over. Every step's results must be
// byte-identical. Once every window is forgotten, only the watermark is
// left under the prefix, and a checkpoint without changes writes nothing.
func TestCheckpointRestoreIsExact(t *testing.T) {
	seed := statetest.Seed(t)
	var late, dropped, restores int
	var stream uint64
	for _, win := range windowings {
		for _, acc := range []bool{false, true} {
			for _, lateness := range []int64{0, 1500} {
				st := Strategy{Merging: win.merging, AllowedLateness: lateness, Accumulating: acc}
				name := fmt.Sprintf("%s/accumulating=%v/lateness=%d", win.name, acc, lateness)
				stream++
				t.Run(name, func(t *testing.T) {
					r := rand.New(rand.NewPCG(seed, stream))
					l, d, n := runDifferential(t, r, win, st)
					late, dropped, restores = late+l, dropped+d, restores+n
				})
			}
		}
	}
	for _, tr := range differentialTriggers {
		for _, win := range windowings {
			if win.merging {
				continue
			}
			for _, acc := range []bool{false, true} {
				st := Strategy{AllowedLateness: 1500, Accumulating: acc, Trigger: tr}
				stream++
				t.Run(fmt.Sprintf("%v/%s/accumulating=%v", tr, win.name, acc), func(t *testing.T) {
					r := rand.New(rand.NewPCG(seed, stream))
					l, d, n := runDifferential(t, r, win, st)
					late, dropped, restores = late+l, dropped+d, restores+n
				})
			}
		}
	}
	t.Logf("%d late panes, %d early, %d dropped elements, %d restores", late, earlyPanes, dropped, restores)
	if !t.Failed() && (late == 0 || earlyPanes == 0 || dropped == 0 || restores == 0) {
		t.Errorf("the scenarios missed a case: %d late panes, %d dropped, %d restores", late, dropped, restores)
	}
}

var earlyPanes int

var differentialTriggers = []*Trigger{
	repeat(afterCount(3)),
	afterEndOfWindow(afterCount(2), &Trigger{Kind: TriggerAlways}),
	afterEndOfWindow(repeat(afterCount(2)), afterCount(2)),
	{Kind: TriggerAfterAny, Subs: []*Trigger{afterCount(4), afterProcessingTime(700)}},
	repeat(&Trigger{Kind: TriggerAfterAny, Subs: []*Trigger{afterCount(4), afterProcessingTime(700)}}),
	{Kind: TriggerAfterEach, Subs: []*Trigger{afterCount(2), afterProcessingTime(500), afterCount(3)}},
}

func repeat(t *Trigger) *Trigger  { return &Trigger{Kind: TriggerRepeat, Subs: []*Trigger{t}} }
func afterCount(n int64) *Trigger { return &Trigger{Kind: TriggerAfterCount, Count: n} }
func afterProcessingTime(ms int64) *Trigger {
	return &Trigger{Kind: TriggerAfterProcessingTime, Transforms: []TimestampTransform{{Delay: ms}}}
}
func afterEndOfWindow(early, late *Trigger) *Trigger {
	return &Trigger{Kind: TriggerAfterEndOfWindow, Subs: []*Trigger{early, late}}
}

// runDifferential runs the checkpoint differential; with a combiner, both
// buffers combine.
func runDifferential(t *testing.T, r *rand.Rand, win windowing, st Strategy, c ...Combiner) (late, dropped, restores int) {
	dir := t.TempDir()
	s := statetest.Open(t, dir)
	defer func() { s.Close() }()
	prefix := state.NewKey(state.NSGroup).Text("stage-1")
	ref, dur := newBuffer(t, win.wc, st, c...), newBuffer(t, win.wc, st, c...)
	now := time.UnixMilli(1_000_000)
	step := func(what string, in []Input[int], wm mtime.Time) {
		t.Helper()
		now = now.Add(time.Duration(r.Int64N(400)) * time.Millisecond)
		want, err := ref.Process(in, wm, now)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dur.Process(in, wm, now)
		if err != nil {
			t.Fatal(err)
		}
		sameResult(t, what, want, got)
		if ref.Watermark() != dur.Watermark() {
			t.Fatalf("%s: watermark %v, want %v", what, dur.Watermark(), ref.Watermark())
		}
		for _, p := range sums(t, win.wc, want, len(c) > 0) {
			if strings.Contains(p, " late#") {
				late++
			}
			if strings.Contains(p, " early#") {
				earlyPanes++
			}
		}
		dropped += want.Dropped
	}
	wm, restarted := int64(0), false
	for i := range 80 {
		next := wm + r.Int64N(800)
		var in []Input[int]
		arrival := wm
		if restarted && r.IntN(2) == 0 {
			// The engine's watermarks started over after the restore.
			arrival = wm - r.Int64N(3000)
		}
		for range r.IntN(4) {
			arrival = min(next, arrival+r.Int64N(300))
			var es []elm
			for range 1 + r.IntN(8) {
				ts := max(0, wm-st.AllowedLateness-1500+r.Int64N(st.AllowedLateness+3500))
				es = append(es, elm{string(rune('a' + r.IntN(5))), r.Int64N(100), ts, win.assign(ts)})
			}
			in = append(in, input(t, win.wc, mtime.Time(arrival), []int{i}, es...))
		}
		wm, restarted = next, false
		step(fmt.Sprintf("step %d", i), in, mtime.Time(wm))
		if r.IntN(3) > 0 {
			continue
		}
		checkpoint(t, s, dur, prefix)
		var restart bool
		if s, restart = statetest.MaybeRestart(t, r, s, dir); !restart {
			continue
		}
		dur, restarted = restore(t, s, win.wc, st, prefix, c...), true
		restores++
	}
	// Past every window's allowed lateness, then the end of time: only the
	// watermark is left, and the last checkpoint leaves nothing to write.
	for _, end := range []mtime.Time{mtime.Time(wm + 10000), mtime.MaxTimestamp} {
		step(fmt.Sprintf("watermark %v", end), nil, end)
		checkpoint(t, s, dur, prefix)
		dur = restore(t, s, win.wc, st, prefix, c...)
		if len(dur.wins) > 0 && (end == mtime.MaxTimestamp || win.name != "global") {
			t.Fatalf("watermark %v: %d windows restored, want none", end, len(dur.wins))
		}
		if ks := keys(t, s, prefix); len(dur.wins) == 0 && !slices.Equal(ks, []string{fmt.Sprintf("%x", prefix)}) {
			t.Errorf("watermark %v: no window left, %d keys under the prefix, want the watermark's", end, len(ks))
		}
	}
	if n := checkpoint(t, s, dur, prefix); n != 0 {
		t.Errorf("a checkpoint without changes wrote %d bytes", n)
	}
	return late, dropped, restores
}

// A checkpoint costs what changed, not what is buffered; one without
// changes writes nothing.
func TestCheckpointIsIncremental(t *testing.T) {
	s := statetest.Open(t, t.TempDir())
	defer s.Close()
	prefix := state.NewKey(state.NSGroup).Text("stage-2")
	wc := coder.NewIntervalWindow()
	b := newBuffer(t, wc, Strategy{AllowedLateness: 5000})
	w := []typex.Window{iw(0, 10000)}
	var es []elm
	for i := range 2000 {
		es = append(es, elm{fmt.Sprintf("key-%d", i%500), int64(i), 1000, w})
	}
	if _, err := b.Process([]Input[int]{input(t, wc, 0, nil, es...)}, 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	full := checkpoint(t, s, b, prefix)
	if n := checkpoint(t, s, b, prefix); n != 0 {
		t.Errorf("no change: %d bytes", n)
	}
	if _, err := b.Process([]Input[int]{input(t, wc, 0, nil, elm{"key-7", 1, 2000, w})}, 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if one := checkpoint(t, s, b, prefix); one == 0 || one > 200 {
		t.Errorf("one element in a window of 2000: %d bytes (the whole buffer: %d)", one, full)
	}
	// The window fires (discarding): every pane record is rewritten and
	// its values deleted; then nothing changes until the window expires.
	if _, err := b.Process(nil, 10000, time.Time{}); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, s, b, prefix)
	if n := len(keys(t, s, prefix)); n != 1+500 {
		t.Errorf("after firing: %d keys, want the watermark and 500 pane records", n)
	}
	if _, err := b.Process(nil, 10000, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if n := checkpoint(t, s, b, prefix); n != 0 {
		t.Errorf("no change after firing: %d bytes", n)
	}
	if _, err := b.Process(nil, 15001, time.Time{}); err != nil {
		t.Fatal(err)
	}
	checkpoint(t, s, b, prefix)
	if n := len(keys(t, s, prefix)); n != 1 {
		t.Errorf("after expiry: %d keys, want the watermark's", n)
	}
}

// A restored buffer keeps its watermark: data arriving with a lower one
// (the engine's watermarks start over) is late or dropped, as it would
// have been, and fired windows do not fire again.
func TestRestoredWatermarkIsAFloor(t *testing.T) {
	s := statetest.Open(t, t.TempDir())
	defer s.Close()
	prefix := state.NewKey(state.NSGroup).Text("stage-3")
	wc := coder.NewIntervalWindow()
	st := Strategy{AllowedLateness: 5000}
	b := newBuffer(t, wc, st)
	w1, w2 := []typex.Window{iw(0, 10000)}, []typex.Window{iw(10000, 20000)}
	res, err := b.Process([]Input[int]{input(t, wc, 0, nil, elm{"a", 1, 1000, w1}, elm{"b", 2, 11000, w2})}, 12000, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "before the checkpoint", decode(t, wc, res), "a[0:10000)@9999=1 ontime#0/0,first")
	checkpoint(t, s, b, prefix)

	b = restore(t, s, wc, st, prefix)
	if b.Watermark() != 12000 {
		t.Errorf("restored watermark %v, want 12000", b.Watermark())
	}
	res, err = b.Process(nil, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ends) != 0 || res.Pending != 1 || res.Hold != 19999 || res.Next != 14999 {
		t.Errorf("restored, nothing new: %+v", res)
	}
	res, err = b.Process([]Input[int]{input(t, wc, 0, nil, elm{"a", 3, 2000, w1})}, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "late after the restore", decode(t, wc, res), "a[0:10000)@9999=3 late#1/1")
	res, err = b.Process([]Input[int]{input(t, wc, 0, nil, elm{"a", 4, 2000, w1})}, 16000, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "late again", decode(t, wc, res), "a[0:10000)@9999=4 late#2/2")
	checkpoint(t, s, b, prefix)

	b = restore(t, s, wc, st, prefix)
	res, err = b.Process([]Input[int]{input(t, wc, 0, nil, elm{"a", 5, 2000, w1})}, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ends) != 0 || res.Dropped != 1 {
		t.Errorf("an expired window's element after the restore: %q, %d dropped", decode(t, wc, res), res.Dropped)
	}
	res, err = b.Process(nil, mtime.MaxTimestamp, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "at the end", decode(t, wc, res), "b[10000:20000)@19999=2 ontime#0/0,first,last")
}

// Restore refuses a buffer in use, and a prefix with nothing under it
// gives an empty buffer.
func TestRestoreEmpty(t *testing.T) {
	s := statetest.Open(t, t.TempDir())
	defer s.Close()
	wc := coder.NewGlobalWindow()
	b := restore(t, s, wc, Strategy{}, state.NewKey(state.NSGroup).Text("none"))
	if len(b.wins) != 0 || b.Watermark() != mtime.MinTimestamp {
		t.Errorf("restored from nothing: %d windows, watermark %v", len(b.wins), b.Watermark())
	}
	if err := b.Restore(s, state.NewKey(state.NSGroup).Text("none")); err == nil {
		t.Error("a second Restore succeeded")
	}
}
