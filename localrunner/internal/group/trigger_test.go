package group

import (
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
)

// trigStep feeds elements (all arriving at watermark arrival) and a
// watermark at processing time now (ms), and checks the panes fired.
type trigStep struct {
	es      []elm
	arrival mtime.Time
	wm      mtime.Time
	now     int64
	want    []string
	dropped int
}

func runTrigger(t *testing.T, st Strategy, steps []trigStep) *Result[int] {
	t.Helper()
	wc := coder.NewIntervalWindow()
	b := newBuffer(t, wc, st)
	var res *Result[int]
	for i, s := range steps {
		var in []Input[int]
		if len(s.es) > 0 {
			in = append(in, input(t, wc, s.arrival, nil, s.es...))
		}
		var err error
		res, err = b.Process(in, s.wm, time.UnixMilli(s.now))
		if err != nil {
			t.Fatal(err)
		}
		check(t, "step "+string(rune('0'+i)), decode(t, wc, res), s.want...)
		if res.Dropped != s.dropped {
			t.Errorf("step %d: %d dropped, want %d", i, res.Dropped, s.dropped)
		}
	}
	return res
}

var w0 = []typex.Window{iw(0, 10000)}

func a(v int64) elm { return elm{"a", v, 1000, w0} }

// Repeat(AfterCount(2)), discarding: a pane every two elements, EARLY,
// then what is left ON_TIME at the end of the window (as prism).
func TestTriggerRepeatAfterCount(t *testing.T) {
	runTrigger(t, Strategy{Trigger: repeat(afterCount(2))}, []trigStep{
		{es: []elm{a(1)}},
		{es: []elm{a(2), a(3), a(4)}, want: []string{"a[0:10000)@9999=1,2 early#0/-1,first", "a[0:10000)@9999=3,4 early#1/-1"}},
		{es: []elm{a(5)}, wm: 10000, want: []string{"a[0:10000)@9999=5 ontime#2/0,last"}},
	})
}

func TestTriggerAccumulating(t *testing.T) {
	runTrigger(t, Strategy{Accumulating: true, Trigger: repeat(afterCount(2))}, []trigStep{
		{es: []elm{a(1), a(2)}, want: []string{"a[0:10000)@9999=1,2 early#0/-1,first"}},
		{es: []elm{a(3), a(4)}, want: []string{"a[0:10000)@9999=1,2,3,4 early#1/-1"}},
		{es: []elm{a(5)}, wm: 10000, want: []string{"a[0:10000)@9999=1,2,3,4,5 ontime#2/0,last"}},
	})
}

// AfterCount(2) alone finishes: the window closes for the key and later
// elements are dropped.
func TestTriggerFinishedClosesThePane(t *testing.T) {
	runTrigger(t, Strategy{Trigger: afterCount(2)}, []trigStep{
		{es: []elm{a(1), a(2)}, want: []string{"a[0:10000)@9999=1,2 early#0/-1,first,last"}},
		{es: []elm{a(3), {"b", 4, 1000, w0}}, wm: 10000, want: []string{"b[0:10000)@9999=4 ontime#0/0,first,last"}, dropped: 1},
	})
}

// AfterEndOfWindow with early AfterCount(2) and late Always: early panes,
// the ON_TIME pane, a LATE pane per late element, the last at expiry.
func TestTriggerAfterEndOfWindowEarlyLate(t *testing.T) {
	tr := afterEndOfWindow(afterCount(2), &Trigger{Kind: TriggerAlways})
	runTrigger(t, Strategy{AllowedLateness: 5000, Trigger: tr}, []trigStep{
		{es: []elm{a(1), a(2), a(3)}, want: []string{"a[0:10000)@9999=1,2 early#0/-1,first"}},
		{wm: 10000, want: []string{"a[0:10000)@9999=3 ontime#1/0"}},
		{es: []elm{a(4)}, arrival: 11000, wm: 11000, want: []string{"a[0:10000)@9999=4 late#2/1"}},
		{es: []elm{a(5)}, arrival: 16000, wm: 16000, dropped: 1},
	})
}

// Without late firings, the ON_TIME pane is the last: late data dropped.
func TestTriggerAfterEndOfWindowWithoutLate(t *testing.T) {
	tr := afterEndOfWindow(afterCount(2), nil)
	runTrigger(t, Strategy{AllowedLateness: 5000, Trigger: tr}, []trigStep{
		{es: []elm{a(1)}, wm: 10000, want: []string{"a[0:10000)@9999=1 ontime#0/0,first,last"}},
		{es: []elm{a(2)}, arrival: 11000, wm: 11000, dropped: 1},
	})
}

// Late AfterCount(2): late elements fire in twos; the rest at expiry.
func TestTriggerLateAfterCount(t *testing.T) {
	tr := afterEndOfWindow(nil, afterCount(2))
	runTrigger(t, Strategy{AllowedLateness: 5000, Trigger: tr}, []trigStep{
		{es: []elm{a(1)}, wm: 10000, want: []string{"a[0:10000)@9999=1 ontime#0/0,first"}},
		{es: []elm{a(2)}, arrival: 11000, wm: 11000},
		{es: []elm{a(3), a(4)}, arrival: 11000, wm: 11000, want: []string{"a[0:10000)@9999=2,3 late#1/1"}},
		{wm: 15001, want: []string{"a[0:10000)@9999=4 late#2/2,last"}},
	})
}

// AfterProcessingTime(500ms): the pane fires when the processing time
// reaches the first element's arrival plus the delay, reported as
// NextProcessing.
func TestTriggerAfterProcessingTime(t *testing.T) {
	res := runTrigger(t, Strategy{Trigger: repeat(afterProcessingTime(500))}, []trigStep{
		{es: []elm{a(1)}, now: 1000},
		{es: []elm{a(2)}, now: 1200},
	})
	if res.NextProcessing != time.UnixMilli(1500) {
		t.Errorf("NextProcessing %v, want 1500ms", res.NextProcessing.UnixMilli())
	}
	res = runTrigger(t, Strategy{Trigger: repeat(afterProcessingTime(500))}, []trigStep{
		{es: []elm{a(1)}, now: 1000},
		{now: 1499},
		{now: 1500, want: []string{"a[0:10000)@9999=1 early#0/-1,first"}},
		{es: []elm{a(2)}, now: 1600},
		{now: 2100, want: []string{"a[0:10000)@9999=2 early#1/-1"}},
	})
	if !res.NextProcessing.IsZero() {
		t.Errorf("NextProcessing %v, want none", res.NextProcessing)
	}
}

func TestTriggerAlignTo(t *testing.T) {
	tr := &Trigger{Kind: TriggerAfterProcessingTime, Transforms: []TimestampTransform{{Delay: 100}, {Period: 1000, Offset: 50}}}
	res := runTrigger(t, Strategy{Trigger: tr}, []trigStep{{es: []elm{a(1)}, now: 1234}})
	if res.NextProcessing != time.UnixMilli(2050) {
		t.Errorf("NextProcessing %v, want 2050ms", res.NextProcessing.UnixMilli())
	}
}

// AfterAny(AfterCount(3), AfterProcessingTime(500)): whichever first,
// then the trigger is finished.
func TestTriggerAfterAny(t *testing.T) {
	tr := &Trigger{Kind: TriggerAfterAny, Subs: []*Trigger{afterCount(3), afterProcessingTime(500)}}
	runTrigger(t, Strategy{Trigger: tr}, []trigStep{
		{es: []elm{a(1), a(2)}, now: 1000},
		{now: 1500, want: []string{"a[0:10000)@9999=1,2 early#0/-1,first,last"}},
		{es: []elm{a(3)}, now: 1600, dropped: 1},
	})
}

// AfterAll(AfterCount(2), AfterProcessingTime(500)): both.
func TestTriggerAfterAll(t *testing.T) {
	tr := &Trigger{Kind: TriggerAfterAll, Subs: []*Trigger{afterCount(2), afterProcessingTime(500)}}
	runTrigger(t, Strategy{Trigger: tr}, []trigStep{
		{es: []elm{a(1)}, now: 1000},
		{now: 1500},
		{es: []elm{a(2)}, now: 1600, want: []string{"a[0:10000)@9999=1,2 early#0/-1,first,last"}},
	})
}

// AfterEach(AfterCount(2), AfterCount(1)): two, then one, then finished.
func TestTriggerAfterEach(t *testing.T) {
	tr := &Trigger{Kind: TriggerAfterEach, Subs: []*Trigger{afterCount(2), afterCount(1)}}
	runTrigger(t, Strategy{Trigger: tr}, []trigStep{
		{es: []elm{a(1), a(2), a(3)}, want: []string{"a[0:10000)@9999=1,2 early#0/-1,first", "a[0:10000)@9999=3 early#1/-1,last"}},
		{es: []elm{a(4)}, dropped: 1},
	})
}

// Repeat(AfterCount(1)) OrFinally AfterCount(3): one pane an element
// until the third.
func TestTriggerOrFinally(t *testing.T) {
	tr := &Trigger{Kind: TriggerOrFinally, Subs: []*Trigger{repeat(afterCount(1)), afterCount(3)}}
	runTrigger(t, Strategy{Trigger: tr}, []trigStep{
		{es: []elm{a(1), a(2), a(3), a(4)}, want: []string{"a[0:10000)@9999=1 early#0/-1,first", "a[0:10000)@9999=2 early#1/-1", "a[0:10000)@9999=3 early#2/-1,last"}, dropped: 1},
	})
}

// Always: a pane per element; Never: one pane when the window expires.
func TestTriggerAlwaysAndNever(t *testing.T) {
	runTrigger(t, Strategy{Trigger: &Trigger{Kind: TriggerAlways}}, []trigStep{
		{es: []elm{a(1), a(2)}, want: []string{"a[0:10000)@9999=1 early#0/-1,first", "a[0:10000)@9999=2 early#1/-1"}},
	})
	runTrigger(t, Strategy{AllowedLateness: 5000, Trigger: &Trigger{Kind: TriggerNever}}, []trigStep{
		{es: []elm{a(1)}, wm: 10000},
		{es: []elm{a(2)}, arrival: 12000, wm: 12000},
		{wm: 15001, want: []string{"a[0:10000)@9999=1,2 ontime#0/0,first,last"}},
	})
}

// AfterSynchronizedProcessingTime fires once the processing time passed
// the first element's: the elements that arrived together, together.
func TestTriggerAfterSynchronizedProcessingTime(t *testing.T) {
	runTrigger(t, Strategy{Trigger: repeat(&Trigger{Kind: TriggerAfterSynchronizedProcessingTime})}, []trigStep{
		{es: []elm{a(1)}},
		{now: 1, want: []string{"a[0:10000)@9999=1 early#0/-1,first"}},
		{es: []elm{a(2), a(3)}, now: 5},
		{now: 6, want: []string{"a[0:10000)@9999=2,3 early#1/-1"}},
	})
}

// A lone AfterProcessingTime that fired does not close its pane (as
// prism): later elements come out when the window ends.
func TestTriggerAfterProcessingTimeOnce(t *testing.T) {
	runTrigger(t, Strategy{Trigger: afterProcessingTime(500)}, []trigStep{
		{es: []elm{a(1)}, now: 1000},
		{now: 1500, want: []string{"a[0:10000)@9999=1 early#0/-1,first"}},
		{es: []elm{a(2)}, now: 1600},
		{now: 2200},
		{wm: 10000, now: 2300, want: []string{"a[0:10000)@9999=2 ontime#1/0,last"}},
	})
}

func TestTriggerRefusesMerging(t *testing.T) {
	if _, err := New[int](Config{Input: coder.NewW(kvCoder, coder.NewIntervalWindow()), Strategy: Strategy{Merging: true, Trigger: afterCount(1)}}); err == nil {
		t.Error("a trigger on sessions was accepted")
	}
}
