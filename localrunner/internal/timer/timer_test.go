package timer_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/timer"
	"github.com/streams-dev/streams/state"
	"github.com/streams-dev/streams/state/statetest"
)

var timerCoder = coder.NewT(coder.NewString(), coder.NewIntervalWindow())

// encode writes a timer the way the SDK's userTimerAdapter does.
func encode(t *testing.T, key, tag string, w typex.Window, clear bool, fire, hold mtime.Time) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := exec.MakeElementEncoder(coder.NewString()).Encode(&exec.FullValue{Elm: key}, &b); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(coder.EncodeStringUTF8(tag, &b))
	must(exec.MakeWindowEncoder(coder.NewIntervalWindow()).Encode([]typex.Window{w}, &b))
	must(coder.EncodeBool(clear, &b))
	if !clear {
		must(coder.EncodeEventTime(fire, &b))
		must(coder.EncodeEventTime(hold, &b))
		must(coder.EncodePane(typex.NoFiringPane(), &b))
	}
	return b.Bytes()
}

func newStore(t *testing.T) *timer.Store {
	t.Helper()
	s, err := timer.New([]timer.Family{
		{Transform: "t1", Family: "ev", Coder: timerCoder},
		{Transform: "t1", Family: "pt", Processing: true, Coder: timerCoder},
	}, group.KeyLength)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestEventTimers(t *testing.T) {
	s := newStore(t)
	w1 := window.IntervalWindow{Start: 0, End: 10}
	w2 := window.IntervalWindow{Start: 10, End: 20}
	in := append(encode(t, "a", "", w1, false, 9, 9), encode(t, "b", "", w1, false, 5, 3)...)
	in = append(in, encode(t, "a", "", w2, false, 19, 19)...)
	in = append(in, encode(t, "a", "x", w1, false, 7, 7)...)
	if err := s.Set("t1", "ev", in); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 || s.Hold() != 3 || s.NextEvent() != 5 {
		t.Fatalf("len %d hold %v next %v, want 4, 3, 5", s.Len(), s.Hold(), s.NextEvent())
	}
	// Setting a timer again replaces it; clearing removes it.
	if err := s.Set("t1", "ev", append(encode(t, "b", "", w1, false, 12, 12), encode(t, "a", "x", w1, true, 0, 0)...)); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 || s.Hold() != 9 || s.NextEvent() != 9 {
		t.Fatalf("after replace and clear: len %d hold %v next %v, want 3, 9, 9", s.Len(), s.Hold(), s.NextEvent())
	}
	now := time.Now()
	if s.Due(8, now) {
		t.Fatal("due at watermark 8, first fire time 9")
	}
	if !s.Due(9, now) {
		t.Fatal("not due at watermark 9 (fire <= watermark)")
	}
	got := s.Fire(12, now)
	want := append(encode(t, "a", "", w1, false, 9, 9), encode(t, "b", "", w1, false, 12, 12)...)
	if len(got) != 1 || got[0].Transform != "t1" || got[0].Family != "ev" || got[0].N != 2 || got[0].Hold != 9 || !bytes.Equal(got[0].Data, want) {
		t.Fatalf("Fire(12) = %+v, want the two timers at 9 and 12 in order", got)
	}
	if s.Len() != 1 || s.Hold() != 19 {
		t.Fatalf("after firing: len %d hold %v, want 1, 19", s.Len(), s.Hold())
	}
	if got := s.Fire(18, now); len(got) != 0 {
		t.Fatalf("Fire(18) = %+v, want nothing", got)
	}
	if got := s.Fire(mtime.MaxTimestamp, now); len(got) != 1 || got[0].N != 1 {
		t.Fatalf("Fire(end of time) = %+v, want the last timer", got)
	}
	if s.Len() != 0 || s.Hold() != mtime.MaxTimestamp || s.Due(mtime.MaxTimestamp, now) {
		t.Fatal("store not empty after every timer fired")
	}
}

func TestProcessingTimers(t *testing.T) {
	s := newStore(t)
	w := window.IntervalWindow{Start: 0, End: 10}
	base := time.UnixMilli(1_700_000_000_000)
	at := func(d time.Duration) mtime.Time { return mtime.FromTime(base.Add(d)) }
	// Without an output timestamp (hold at the end of time) and with one.
	in := append(encode(t, "a", "", w, false, at(2*time.Second), mtime.MaxTimestamp), encode(t, "b", "", w, false, at(time.Second), 4)...)
	if err := s.Set("t1", "pt", in); err != nil {
		t.Fatal(err)
	}
	next, ok := s.NextProcessing()
	if !ok || !next.Equal(base.Add(time.Second)) {
		t.Fatalf("NextProcessing = %v, %v, want %v", next, ok, base.Add(time.Second))
	}
	if s.Hold() != 4 {
		t.Fatalf("hold %v, want 4", s.Hold())
	}
	// The watermark does not fire processing-time timers; the clock does.
	if s.Due(mtime.MaxTimestamp, base) {
		t.Fatal("processing-time timer due before its time")
	}
	got := s.Fire(mtime.MaxTimestamp, base.Add(1500*time.Millisecond))
	if len(got) != 1 || got[0].Family != "pt" || got[0].N != 1 || got[0].Hold != 4 {
		t.Fatalf("Fire at +1.5s = %+v, want b's timer", got)
	}
	if s.Hold() != mtime.MaxTimestamp {
		t.Fatalf("hold %v: a timer without output timestamp must not hold", s.Hold())
	}
}

func TestBadTimers(t *testing.T) {
	s := newStore(t)
	if err := s.Set("t1", "nope", nil); err == nil {
		t.Error("unknown family accepted")
	}
	good := encode(t, "a", "", window.IntervalWindow{Start: 0, End: 10}, false, 9, 9)
	if err := s.Set("t1", "ev", good[:len(good)-3]); err == nil {
		t.Error("truncated timer accepted")
	}
	if _, err := timer.New([]timer.Family{{Transform: "t", Family: "f", Coder: coder.NewString()}}, group.KeyLength); err == nil {
		t.Error("a family with a non-timer coder accepted")
	}
}

func TestCheckpointRestore(t *testing.T) {
	db := statetest.Open(t, t.TempDir())
	defer db.Close()
	prefix := state.NewKey(state.NSTimer).Text("stage-1")
	save := func(s *timer.Store) {
		t.Helper()
		statetest.Commit(t, db, func(b *state.Batch) error { return s.Checkpoint(b, prefix) })
	}
	load := func() *timer.Store {
		t.Helper()
		s := newStore(t)
		if err := s.Restore(db, prefix); err != nil {
			t.Fatal(err)
		}
		return s
	}
	w := window.IntervalWindow{Start: 0, End: 10}
	s := newStore(t)
	for i, k := range []string{"a", "b\x00c", "d"} {
		if err := s.Set("t1", "ev", encode(t, k, "", w, false, mtime.Time(10*(i+1)), mtime.Time(10*(i+1)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set("t1", "pt", encode(t, "a", "tag", w, false, mtime.FromTime(time.Now().Add(time.Hour)), 5)); err != nil {
		t.Fatal(err)
	}
	save(s) // the first checkpoint writes everything
	// Changes after it: one fired, one replaced, one cleared, one new.
	s.Fire(10, time.Now())
	if err := s.Set("t1", "ev", append(encode(t, "d", "", w, false, 35, 33), encode(t, "b\x00c", "", w, true, 0, 0)...)); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("t1", "ev", encode(t, "e", "x", w, false, 50, 50)); err != nil {
		t.Fatal(err)
	}
	save(s)
	r := load()
	if r.Len() != s.Len() || r.Hold() != s.Hold() || r.NextEvent() != s.NextEvent() {
		t.Fatalf("restored len %d hold %v next %v, want %d %v %v", r.Len(), r.Hold(), r.NextEvent(), s.Len(), s.Hold(), s.NextEvent())
	}
	far := time.Now().Add(2 * time.Hour)
	got, want := r.Fire(mtime.MaxTimestamp, far), s.Fire(mtime.MaxTimestamp, far)
	if len(got) != len(want) {
		t.Fatalf("restored store fired %d runs, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Transform != want[i].Transform || got[i].Family != want[i].Family || got[i].N != want[i].N || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Errorf("run %d: restored %+v, want %+v", i, got[i], want[i])
		}
	}
	// Everything fired: the next checkpoint leaves nothing under prefix.
	save(r)
	n := 0
	if err := db.Scan(prefix, func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d keys left under the prefix after every timer fired", n)
	}
	if err := r.Restore(db, prefix); err == nil {
		t.Error("Restore into a store in use accepted")
	}
}

// Timers are saved under their transform's unique name: a pipeline whose
// transform IDs changed gets them back under its new ID, and one whose
// transform is gone is told so.
func TestCheckpointKeysByName(t *testing.T) {
	db := statetest.Open(t, t.TempDir())
	defer db.Close()
	prefix := state.NewKey(state.NSTimer).Text("stage-1")
	store := func(id, name string) *timer.Store {
		t.Helper()
		s, err := timer.New([]timer.Family{{Transform: id, Name: name, Family: "ev", Coder: timerCoder}}, group.KeyLength)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := store("e3", "count/flush")
	if err := s.Set("e3", "ev", encode(t, "a", "", window.IntervalWindow{Start: 0, End: 10}, false, 9, 9)); err != nil {
		t.Fatal(err)
	}
	statetest.Commit(t, db, func(b *state.Batch) error { return s.Checkpoint(b, prefix) })

	r := store("e8", "count/flush")
	if err := r.Restore(db, prefix); err != nil {
		t.Fatal(err)
	}
	fired := r.Fire(mtime.MaxTimestamp, time.Now())
	if len(fired) != 1 || fired[0].Transform != "e8" || fired[0].N != 1 {
		t.Fatalf("restored under a new ID: fired %+v", fired)
	}
	err := store("e3", "other/flush").Restore(db, prefix)
	if err == nil || !strings.Contains(err.Error(), `of count/flush, which the pipeline no longer has`) {
		t.Errorf("restore without the transform: %v", err)
	}
}
