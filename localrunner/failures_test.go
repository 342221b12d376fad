package localrunner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/periodic"
	"github.com/streams-dev/streams/localrunner"
)

// failFn fails on element 3: it returns an error, or panics when Panic is
// set.
type failFn struct {
	Panic bool
}

func (f *failFn) ProcessElement(x int) (int, error) {
	if x == 3 {
		if f.Panic {
			panic("boom at 3")
		}
		return 0, fmt.Errorf("bad element %d", x)
	}
	return x, nil
}

func toKV(x int) (string, int) { return fmt.Sprint(x % 2), x }

func addSide(x int, side []int) int { return x + len(side) }

func byteLen(b []byte) int { return len(b) }

func init() {
	register.DoFn1x2[int, int, error](&failFn{})
	register.Function1x2(toKV)
	register.Function2x1(addSide)
	register.Function1x1(byteLen)
}

func TestDoFnErrorNamesTransform(t *testing.T) {
	for _, panics := range []bool{false, true} {
		t.Run(fmt.Sprintf("panic=%v", panics), func(t *testing.T) {
			prefix := t.Name() + "/"
			_, err := runLocal(t, func(s beam.Scope, prefix string) {
				nums := beam.ParDo(s.Scope("upstream"), double, beam.Create(s, 1, 2, 3, 4))
				halved := beam.ParDo(s.Scope("halve"), halve, nums)
				bad := beam.ParDo(s.Scope("explode"), &failFn{Panic: panics}, halved)
				collect(s, prefix+"out", bad)
			}, prefix)
			t.Logf("error: %v", err)
			var te *localrunner.TransformError
			if !errors.As(err, &te) {
				t.Fatalf("Run: %v, want a *TransformError", err)
			}
			if !strings.Contains(te.Transform, "explode") {
				t.Errorf("failure attributed to %q, want the explode transform; error: %v", te.Transform, err)
			}
			cause := "bad element 3"
			if panics {
				cause = "boom at 3"
			}
			if te.Panic != panics || !strings.Contains(err.Error(), cause) || !strings.Contains(err.Error(), "explode") {
				t.Errorf("error %q (panic %v): want the transform and %q", err, te.Panic, cause)
			}
			if errors.Is(err, context.Canceled) {
				t.Error("a failure must not look like a cancellation")
			}
			takeRecords(prefix + "out")
		})
	}
}

func halve(x int) int { return x / 2 }

func init() {
	register.Function1x1(halve)
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		build  func(s beam.Scope, col beam.PCollection)
		inName string // the refused transform's name contains this
		urn    string
		reason string
	}{
		{
			name: "trigger",
			build: func(s beam.Scope, col beam.PCollection) {
				counted := beam.WindowInto(s, window.NewSessions(time.Second), beam.ParDo(s, toKV, col), beam.Trigger(trigger.AfterCount(2)))
				beam.GroupByKey(s.Scope("group"), counted)
			},
			inName: "group", urn: "beam:transform:group_by_key:v1", reason: "triggers other than the default on merging (session) windows",
		},
		{
			name: "combine with a trigger",
			build: func(s beam.Scope, col beam.PCollection) {
				repeated := beam.WindowInto(s, window.NewSessions(time.Second), col, beam.Trigger(trigger.Repeat(trigger.AfterCount(1))))
				beam.Combine(s.Scope("summed"), sumInts, repeated)
			},
			inName: "summed", urn: "beam:transform:group_by_key:v1", reason: "triggers other than the default on merging (session) windows",
		},
		{
			name: "unbounded side input",
			build: func(s beam.Scope, col beam.PCollection) {
				ticks := periodic.Impulse(s, time.Now(), time.Now().Add(time.Hour), time.Second, false)
				minutes := window.NewFixedWindows(time.Minute)
				windowed := beam.WindowInto(s, minutes, beam.ParDo(s, byteLen, ticks))
				beam.ParDo(s.Scope("with ticks"), addSide, beam.WindowInto(s, minutes, col), beam.SideInput{Input: windowed})
			},
			inName: "with ticks", urn: "beam:transform:pardo:v1", reason: "unbounded",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := t.Name() + "/"
			_, err := runLocal(t, func(s beam.Scope, prefix string) {
				col := beam.Create(s, 1, 2, 3)
				collect(s, prefix+"before", col)
				tc.build(s, col)
			}, prefix)
			t.Logf("error: %v", err)
			if !errors.Is(err, localrunner.ErrUnsupported) {
				t.Fatalf("Run: %v, want ErrUnsupported", err)
			}
			var ue *localrunner.UnsupportedError
			if !errors.As(err, &ue) {
				t.Fatalf("Run: %v, want an *UnsupportedError", err)
			}
			where := ue.Transform + " " + ue.Composite
			if !strings.Contains(where, tc.inName) || ue.URN != tc.urn || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("refusal %q (%+v): want a transform named like %q, URN %s, reason %q", err, ue, tc.inName, tc.urn, tc.reason)
			}
			if n := countRecords(prefix + "before"); n != 0 {
				t.Errorf("%d elements processed: a refused pipeline must not run at all", n)
			}
		})
	}
}

// finalizeFn registers a bundle finalization callback per element that logs
// "finalized" into the sink Key.
type finalizeFn struct {
	Key string
}

func (f *finalizeFn) ProcessElement(bf beam.BundleFinalization, x int, emit func(int)) {
	key := f.Key
	bf.RegisterCallback(time.Minute, func() error {
		sinks.mu.Lock()
		defer sinks.mu.Unlock()
		sinks.m[key] = append(sinks.m[key], record{Value: "finalized"})
		return nil
	})
	emit(x)
}

func init() {
	register.DoFn3x0[beam.BundleFinalization, int, func(int)](&finalizeFn{})
}

func TestBundleFinalizationAfterDownstream(t *testing.T) {
	var finalized []localrunner.FinalizeEvent
	hooks := localrunner.Hooks{Finalized: func(e localrunner.FinalizeEvent) { finalized = append(finalized, e) }}
	prefix := t.Name() + "/"
	_, err := runLocal(t, func(s beam.Scope, prefix string) {
		out := beam.ParDo(s, &finalizeFn{Key: prefix + "log"}, beam.Create(s, 1, 2, 3))
		// The Flatten puts the downstream collect in another stage.
		flat := beam.Flatten(s, out, beam.Create(s, 10))
		collect(s, prefix+"log", beam.ParDo(s, format, flat))
	}, prefix, localrunner.WithHooks(hooks))
	if err != nil {
		t.Fatal(err)
	}
	log := takeRecords(prefix + "log")
	var order []string
	for _, r := range log {
		order = append(order, r.Value)
	}
	// Three callbacks (one per element, one bundle), all after the
	// downstream stage processed the bundle's outputs (v10 comes from another
	// branch and may be processed at any time).
	last, first := -1, len(order)
	for i, v := range order {
		switch v {
		case "v1", "v2", "v3":
			last = max(last, i)
		case "finalized":
			first = min(first, i)
		}
	}
	if len(order) != 7 || last > first {
		t.Fatalf("log %v, want v1, v2, v3 processed downstream before the 3 finalizations", order)
	}
	if len(finalized) != 1 || finalized[0].Err != nil {
		t.Errorf("finalize events %+v, want one bundle finalized without error", finalized)
	}
}

// blockFn waits for its context to end.
func blockFn(ctx context.Context, x int) error {
	<-ctx.Done()
	return ctx.Err()
}

func init() {
	register.Function2x1(blockFn)
}

func TestFailureCancelsRunningBundles(t *testing.T) {
	start := time.Now()
	_, err := runLocal(t, func(s beam.Scope, prefix string) {
		beam.ParDo0(s.Scope("blocked"), blockFn, beam.Create(s, 1))
		beam.ParDo(s.Scope("explode"), &failFn{}, beam.Create(s, 3))
	}, t.Name()+"/", localrunner.WithParallelism(2))
	var te *localrunner.TransformError
	if !errors.As(err, &te) || !strings.Contains(te.Transform, "explode") {
		t.Fatalf("Run: %v, want the explode failure", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("took %v: the blocked bundle was not cancelled", took)
	}
}
