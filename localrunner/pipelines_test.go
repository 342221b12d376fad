package localrunner_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/streams-dev/streams/localrunner"
)

func double(x int) int { return 2 * x }

func format(ctx context.Context, x int) string {
	seen.Inc(ctx, 1)
	return fmt.Sprintf("v%d", x)
}

var seen = beam.NewCounter("localrunner_test", "seen")

// splitFn sends x < 3 to small, then evens and odds to their own outputs.
func splitFn(x int, small, even, odd func(int)) {
	switch {
	case x < 3:
		small(x)
	case x%2 == 0:
		even(x)
	default:
		odd(x)
	}
}

// stamp gives element x the event time x seconds.
func stamp(x int, emit func(beam.EventTime, int)) {
	emit(mtime.FromMilliseconds(int64(x)*1000), x)
}

func init() {
	register.Function1x1(double)
	register.Function2x1(format)
	register.Function4x0(splitFn)
	register.Emitter1[int]()
	register.Function2x0(stamp)
	register.Emitter2[beam.EventTime, int]()
}

func TestImpulseParDoChain(t *testing.T) {
	var events []localrunner.WatermarkEvent
	stages := map[string]bool{}
	hooks := localrunner.Hooks{
		WatermarkAdvanced: func(e localrunner.WatermarkEvent) { events = append(events, e) },
		BundleDone:        func(e localrunner.BundleEvent) { stages[e.Stage] = true },
	}
	b := func(s beam.Scope, prefix string) {
		nums := beam.Create(s, 1, 2, 3, 4, 5)
		doubled := beam.ParDo(s.Scope("double"), double, nums)
		collect(s, prefix+"out", beam.ParDo(s.Scope("format"), format, doubled))
	}
	prefix := t.Name() + "/"
	res, err := runLocal(t, b, prefix, localrunner.WithHooks(hooks))
	if err != nil {
		t.Fatal(err)
	}
	got := takeRecords(prefix + "out")
	if want := []string{"v10", "v2", "v4", "v6", "v8"}; !slices.Equal(values(got), want) {
		t.Errorf("got %v, want %v", values(got), want)
	}
	for _, r := range got {
		if r.Time != mtime.MinTimestamp || r.Window != fmt.Sprint(window.GlobalWindow{}) {
			t.Errorf("%v: want the minimum timestamp in the global window", r)
		}
	}
	// Create, double and format fuse into one stage read from the Impulse.
	if len(stages) != 1 {
		t.Errorf("bundles ran in %d stages, want 1 (fused)", len(stages))
	}
	final := map[string]mtime.Time{}
	for _, e := range events {
		final[e.Stage] = e.Watermark
	}
	for s, w := range final {
		if w != mtime.MaxTimestamp {
			t.Errorf("stage %s ended at watermark %v, want the end of time", s, w)
		}
	}
	counters := res.Metrics().Query(func(r metrics.SingleResult) bool { return r.Name() == "seen" }).Counters()
	if len(counters) != 1 || counters[0].Result() != 5 || !strings.Contains(counters[0].Key.Step, "format") {
		t.Errorf("counters %+v, want one \"seen\" = 5 on the format step", counters)
	}
}

func TestImpulseParDoChainMatchesPrism(t *testing.T) {
	runBoth(t, func(s beam.Scope, prefix string) {
		nums := beam.Create(s, 1, 2, 3, 4, 5)
		collect(s, prefix+"out", beam.ParDo(s, format, beam.ParDo(s, double, nums)))
	}, "out")
}

func TestMultiOutputParDo(t *testing.T) {
	got := runBoth(t, func(s beam.Scope, prefix string) {
		small, even, odd := beam.ParDo3(s, splitFn, beam.Create(s, 1, 2, 3, 4, 5, 6, 7))
		collect(s, prefix+"small", small)
		collect(s, prefix+"even", even)
		collect(s, prefix+"odd", odd)
	}, "small", "even", "odd")
	for name, want := range map[string][]string{"small": {"1", "2"}, "even": {"4", "6"}, "odd": {"3", "5", "7"}} {
		if !slices.Equal(values(got[name]), want) {
			t.Errorf("%s: got %v, want %v", name, values(got[name]), want)
		}
	}
}

func TestFlatten(t *testing.T) {
	got := runBoth(t, func(s beam.Scope, prefix string) {
		a := beam.Create(s, 1, 2, 3)
		b := beam.ParDo(s, double, beam.Create(s, 5, 10))
		flat := beam.Flatten(s, a, b, a) // a twice: its elements twice
		collect(s, prefix+"flat", flat)
		collect(s, prefix+"formatted", beam.ParDo(s, format, flat))
	}, "flat", "formatted")
	if want := []string{"1", "1", "10", "2", "2", "20", "3", "3"}; !slices.Equal(values(got["flat"]), want) {
		t.Errorf("flat: got %v, want %v", values(got["flat"]), want)
	}
	if n := len(got["formatted"]); n != 8 {
		t.Errorf("formatted: %d elements, want 8", n)
	}
}

func TestWindowIntoAndTimestamps(t *testing.T) {
	got := runBoth(t, func(s beam.Scope, prefix string) {
		stamped := beam.ParDo(s, stamp, beam.Create(s, 1, 9, 10, 25))
		collect(s, prefix+"stamped", stamped)
		collect(s, prefix+"fixed", beam.WindowInto(s, window.NewFixedWindows(10*time.Second), stamped))
		collect(s, prefix+"sliding", beam.WindowInto(s, window.NewSlidingWindows(10*time.Second, 20*time.Second), stamped))
		collect(s, prefix+"sessions", beam.WindowInto(s, window.NewSessions(5*time.Second), stamped))
	}, "stamped", "fixed", "sliding", "sessions")
	fixed := strs(got["fixed"])
	want := []string{"10@10000[10000:20000)", "1@1000[0:10000)", "25@25000[20000:30000)", "9@9000[0:10000)"}
	if !slices.Equal(fixed, want) {
		t.Errorf("fixed windows: got %v, want %v", fixed, want)
	}
	// Sliding windows of 20s every 10s: each element is in two windows.
	if n := len(got["sliding"]); n != 8 {
		t.Errorf("sliding windows: %d element-windows, want 8: %v", n, strs(got["sliding"]))
	}
}
