package localrunner_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/teststream"
	"github.com/streams-dev/streams/localrunner"
)

// gcKey keys x by its parity.
func gcKey(x int64) (string, int) { return strconv.FormatInt(x%2, 10), int(x) }

// gcStamp puts x in window x/4 of 10 s fixed windows (event time
// 10*(x/4) s plus x%4 ms), keyed by its parity.
func gcStamp(x int) (beam.EventTime, string, int) {
	return mtime.FromMilliseconds(int64(x/4)*10_000 + int64(x%4)), strconv.Itoa(x % 2), x
}

// sumAtWindowEnd adds each key's values in Bag state and emits "key=sum"
// from an event-time timer at the end of the window.
type sumAtWindowEnd struct {
	Sum state.Bag[int]
	End timers.EventTime
	// NoHold sets the timer WithNoOutputTimestamp.
	NoHold bool
}

func (f *sumAtWindowEnd) ProcessElement(w beam.Window, sp state.Provider, tp timers.Provider, _ string, v int, _ func(string)) error {
	if f.NoHold {
		f.End.Set(tp, w.MaxTimestamp().ToTime(), timers.WithNoOutputTimestamp())
	} else {
		f.End.Set(tp, w.MaxTimestamp().ToTime())
	}
	return f.Sum.Add(sp, v)
}

func (f *sumAtWindowEnd) OnTimer(_ context.Context, _ beam.EventTime, sp state.Provider, _ timers.Provider, key string, _ timers.Context, emit func(string)) {
	vs, _, err := f.Sum.Read(sp)
	if err != nil {
		emit(key + " error: " + err.Error())
		return
	}
	sum := 0
	for _, v := range vs {
		sum += v
	}
	emit(key + "=" + strconv.Itoa(sum))
}

func init() {
	register.Function1x2(gcKey)
	register.Function1x3(gcStamp)
	register.DoFn6x1[beam.Window, state.Provider, timers.Provider, string, int, func(string), error](&sumAtWindowEnd{})
	register.Emitter1[string]()
}

// gcLog counts the user state cells the engine reports dropped (its debug
// log, the one place the count shows).
type gcLog struct {
	mu    sync.Mutex
	cells int64
}

func (h *gcLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *gcLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *gcLog) WithGroup(string) slog.Handler            { return h }
func (h *gcLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "localrunner: user state of expired windows dropped" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "cells" {
			h.mu.Lock()
			h.cells += a.Value.Int64()
			h.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h *gcLog) dropped() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cells
}

// byWindow returns the sorted values of rs by window.
func byWindow(rs []record) map[string][]string {
	m := map[string][]string{}
	for _, r := range rs {
		m[r.Window] = append(m[r.Window], r.Value)
	}
	for _, vs := range m {
		slices.Sort(vs)
	}
	return m
}

// TestStateOfExpiredWindowsIsCollected runs a stateful DoFn (Value and Bag
// state, counting per key) over many fixed windows from a TestStream: two
// elements per key and window, then the watermark past every window, then
// one late element per key and window. Without allowed lateness the
// windows had expired: their state was dropped when the watermark passed
// them, and the late elements are dropped before the DoFn (counted in
// droppedDueToLateness), as Beam's runners drop late data before a
// stateful DoFn, rather than count from 1 again in state started anew.
// With an hour of allowed lateness the state was kept and they count 3.
// Either way the engine reports the state of every key and window
// collected (at the end of time at the latest).
func TestStateOfExpiredWindowsIsCollected(t *testing.T) {
	const windows = 20
	for _, tc := range []struct {
		name     string
		lateness time.Duration
		late     []string // the counts of the late elements
		dropped  int64
		cells    int64 // Value and Bag cells collected
	}{
		{"expired", 0, nil, 2 * windows, windows * 2 * 2},
		{"within lateness", time.Hour, []string{"0#3", "1#3"}, 0, windows * 2 * 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := func(s beam.Scope, prefix string) {
				con := teststream.NewConfig()
				for i := range int64(windows) {
					if err := con.AddElements(i*10_000+1, 4*i, 4*i+1, 4*i+2, 4*i+3); err != nil {
						t.Fatal(err)
					}
				}
				if err := con.AdvanceWatermark(windows*10_000 + 1000); err != nil {
					t.Fatal(err)
				}
				for i := range int64(windows) {
					if err := con.AddElements(i*10_000+2, 4*i, 4*i+1); err != nil {
						t.Fatal(err)
					}
				}
				in := beam.WindowInto(s, window.NewFixedWindows(10*time.Second), beam.ParDo(s, gcKey, teststream.Create(s, con)), beam.AllowedLateness(tc.lateness))
				collect(s, prefix+"counts", beam.ParDo(s, &runningCount{}, in))
			}
			log := &gcLog{}
			prefix := t.Name() + "/"
			res, err := runLocal(t, b, prefix, localrunner.WithLogger(slog.New(log)))
			if err != nil {
				t.Fatal(err)
			}
			got := byWindow(takeRecords(prefix + "counts"))
			want := append([]string{"0#1", "0#2", "1#1", "1#2"}, tc.late...)
			slices.Sort(want)
			if len(got) != windows {
				t.Errorf("counts in %d windows, want %d", len(got), windows)
			}
			for w, vs := range got {
				if !slices.Equal(vs, want) {
					t.Errorf("window %s: counts %v, want %v", w, vs, want)
				}
			}
			if n := log.dropped(); n != tc.cells {
				t.Errorf("%d state cells collected, want %d", n, tc.cells)
			}
			if n := droppedLate(res); n != tc.dropped {
				t.Errorf("droppedDueToLateness = %d, want %d", n, tc.dropped)
			}
		})
	}
}

// TestLateDataBeforeStatefulDoFnKeepsLiveWindows: an element in two
// sliding windows, one of which expired before it arrived, reaches the
// stateful DoFn in the other alone.
func TestLateDataBeforeStatefulDoFnKeepsLiveWindows(t *testing.T) {
	b := func(s beam.Scope, prefix string) {
		con := teststream.NewConfig()
		if err := con.AddElements(5_000, int64(0)); err != nil { // windows [-10 s, 10 s) and [0, 20 s)
			t.Fatal(err)
		}
		if err := con.AdvanceWatermark(12_000); err != nil { // past the first
			t.Fatal(err)
		}
		if err := con.AddElements(6_000, int64(2)); err != nil { // late for the first window only
			t.Fatal(err)
		}
		in := beam.WindowInto(s, window.NewSlidingWindows(10*time.Second, 20*time.Second), beam.ParDo(s, gcKey, teststream.Create(s, con)))
		collect(s, prefix+"counts", beam.ParDo(s, &runningCount{}, in))
	}
	// One lane filters whole batches, several filter as they spread the
	// elements over lanes.
	for _, parallelism := range []int{1, 4} {
		t.Run(fmt.Sprint("parallelism ", parallelism), func(t *testing.T) {
			prefix := t.Name() + "/"
			res, err := runLocal(t, b, prefix, localrunner.WithParallelism(parallelism))
			if err != nil {
				t.Fatal(err)
			}
			got := byWindow(takeRecords(prefix + "counts"))
			want := map[string][]string{"[-10000:10000)": {"0#1"}, "[0:20000)": {"0#1", "0#2"}}
			if !maps.EqualFunc(got, want, slices.Equal) {
				t.Errorf("counts by window %v, want %v", got, want)
			}
			if n := droppedLate(res); n != 1 {
				t.Errorf("droppedDueToLateness = %d, want 1 (one window of one element)", n)
			}
		})
	}
}

// TestStateOutlivesItsWindowTimers: a bounded run's watermark jumps to the
// end of time, past every window at once, while the event-time timers at
// the windows' ends have not fired yet, and elements are still queued.
// The state the timers read must still be there (the engine collects at
// the stage's output watermark, which queued elements and live timers
// hold, not at its input watermark), and be collected once they fired.
func TestStateOutlivesItsWindowTimers(t *testing.T) {
	const windows = 30
	var in []int
	for x := range 4 * windows {
		in = append(in, x)
	}
	for _, noHold := range []bool{false, true} {
		t.Run(fmt.Sprint("no output timestamp ", noHold), func(t *testing.T) {
			b := func(s beam.Scope, prefix string) {
				keyed := beam.WindowInto(s, window.NewFixedWindows(10*time.Second), beam.ParDo(s, gcStamp, beam.CreateList(s, in)))
				fn := &sumAtWindowEnd{Sum: state.MakeBagState[int]("sum"), End: timers.InEventTime("end"), NoHold: noHold}
				collect(s, prefix+"sums", beam.ParDo(s, fn, keyed))
			}
			log := &gcLog{}
			prefix := t.Name() + "/"
			if _, err := runLocal(t, b, prefix, localrunner.WithLogger(slog.New(log)), localrunner.WithMaxBundleSize(16)); err != nil {
				t.Fatal(err)
			}
			got := byWindow(takeRecords(prefix + "sums"))
			if len(got) != windows {
				t.Errorf("sums in %d windows, want %d", len(got), windows)
			}
			for i := range windows {
				w := fmt.Sprint(window.IntervalWindow{Start: mtime.FromMilliseconds(int64(i) * 10_000), End: mtime.FromMilliseconds(int64(i+1) * 10_000)})
				want := []string{"0=" + strconv.Itoa(8*i+2), "1=" + strconv.Itoa(8*i+4)}
				if !slices.Equal(got[w], want) {
					t.Errorf("window %s: sums %v, want %v", w, got[w], want)
				}
			}
			if n := log.dropped(); n != windows*2 {
				t.Errorf("%d state cells collected, want the %d bags", n, windows*2)
			}
		})
	}
}
