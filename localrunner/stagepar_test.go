package localrunner_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/streams-dev/streams/localrunner"
)

// Running elements of slowFn, across bundles: how many at once, and the
// most seen.
var slowActive, slowMost atomic.Int64

// slowFn keys every element to one key, sleeping per element: Long for
// the first Head elements, Short for the others, so that the bundle
// taking the head finishes after the bundles taking what follows it.
type slowFn struct {
	Head        int
	Long, Short time.Duration
}

func (f *slowFn) ProcessElement(x int) (string, int) {
	n := slowActive.Add(1)
	defer slowActive.Add(-1)
	for m := slowMost.Load(); n > m && !slowMost.CompareAndSwap(m, n); m = slowMost.Load() {
	}
	if x < f.Head {
		time.Sleep(f.Long)
	} else {
		time.Sleep(f.Short)
	}
	return "k", x
}

// orderFn fails on an element not greater than the one before it.
type orderFn struct {
	Last state.Value[int]
}

func (f *orderFn) ProcessElement(p state.Provider, _ string, x int) (int, error) {
	last, ok, err := f.Last.Read(p)
	if err != nil {
		return 0, err
	}
	if ok && x <= last {
		return 0, fmt.Errorf("%d after %d: out of order", x, last)
	}
	return x, f.Last.Write(p, x)
}

func init() {
	register.DoFn1x2[int, string, int](&slowFn{})
	register.DoFn3x2[state.Provider, string, int, int, error](&orderFn{})
}

// WithStepParallelism runs that many bundles of the step's stage at once,
// even above WithParallelism (raised to reach it), never more; the
// stage's outputs reach the next stage in the order of its input, though
// its bundles finish out of order.
func TestStepParallelismBoundsAStageAndKeepsOrder(t *testing.T) {
	const n = 200
	var in []int
	for i := range n {
		in = append(in, i)
	}
	for _, tc := range []struct {
		scope string
		steps map[string]int
		want  int64
	}{
		{"slow", map[string]int{"slow": 4}, 4},
		{"slow", map[string]int{"slow": 1}, 1},
		// A chain's scope names each of its steps; the stage takes the
		// largest bound; a step no stage runs is warned about.
		{"other+slow", map[string]int{"slow": 3, "other": 2, "unknown": 5}, 3},
	} {
		t.Run(fmt.Sprint(tc.scope, tc.steps), func(t *testing.T) {
			slowMost.Store(0)
			prefix := t.Name() + "/"
			scope := tc.scope
			_, err := runLocal(t, func(s beam.Scope, prefix string) {
				// A Flatten's reader starts a stage: slow does not run in
				// the Create's one bundle. (The SDK drops a Flatten of
				// one PCollection.)
				nums := beam.Flatten(s, beam.CreateList(s, in), beam.CreateList(s, []int{}))
				keyed := beam.ParDo(s.Scope(scope), &slowFn{Head: n / 4, Long: 2 * time.Millisecond, Short: 100 * time.Microsecond}, nums)
				collect(s, prefix+"ordered", beam.ParDo(s.Scope("order"), &orderFn{}, keyed))
			}, prefix, localrunner.WithParallelism(1), localrunner.WithStepParallelism(tc.steps))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(takeRecords(prefix + "ordered")); got != n {
				t.Errorf("%d elements came through, want %d", got, n)
			}
			most := slowMost.Load()
			if most > tc.want {
				t.Errorf("%d elements of the bounded step ran at once, want at most %d", most, tc.want)
			}
			if min := min(tc.want, 3); most < min {
				t.Errorf("at most %d element(s) of the bounded step ran at once, want %d", most, min)
			}
		})
	}
}
