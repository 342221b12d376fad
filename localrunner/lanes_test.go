package localrunner_test

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/streams-dev/streams/localrunner"
)

// Running elements of laneCount, across bundles: how many at once (and
// the most seen), and which keys.
var (
	laneActive, laneMost atomic.Int64
	laneKeysMu           sync.Mutex
	laneKeys             = map[string]bool{}
)

// laneCount counts each key's elements in Value state, slowly, and fails
// if another bundle is processing the same key at the same moment.
type laneCount struct {
	Count state.Value[int]
}

func (f *laneCount) ProcessElement(p state.Provider, key string, _ int) (string, error) {
	laneKeysMu.Lock()
	if laneKeys[key] {
		laneKeysMu.Unlock()
		return "", fmt.Errorf("key %s is in two bundles at once", key)
	}
	laneKeys[key] = true
	laneKeysMu.Unlock()
	defer func() {
		laneKeysMu.Lock()
		delete(laneKeys, key)
		laneKeysMu.Unlock()
	}()
	n := laneActive.Add(1)
	defer laneActive.Add(-1)
	for m := laneMost.Load(); n > m && !laneMost.CompareAndSwap(m, n); m = laneMost.Load() {
	}
	time.Sleep(200 * time.Microsecond)
	c, _, err := f.Count.Read(p)
	if err != nil {
		return "", err
	}
	if err := f.Count.Write(p, c+1); err != nil {
		return "", err
	}
	return key + "#" + strconv.Itoa(c+1), nil
}

func mod40(x int) (string, int) { return "k" + strconv.Itoa(x%40), x }

func init() {
	register.DoFn3x2[state.Provider, string, int, string, error](&laneCount{})
	register.Function1x2(mod40)
}

// A stateful DoFn's keys are spread over parallel bundles (the runner's
// parallelism), never one key in two bundles at once, and every key's
// state sees each of its elements once.
func TestStatefulKeysRunInParallel(t *testing.T) {
	const n = 800
	var in []int
	for i := range n {
		in = append(in, i)
	}
	var want []string
	for k := range 40 {
		for c := 1; c <= n/40; c++ {
			want = append(want, "k"+strconv.Itoa(k)+"#"+strconv.Itoa(c))
		}
	}
	slices.Sort(want)
	laneMost.Store(0)
	prefix := t.Name() + "/"
	_, err := runLocal(t, func(s beam.Scope, prefix string) {
		keyed := beam.ParDo(s, mod40, beam.CreateList(s, in))
		collect(s, prefix+"counts", beam.ParDo(s, &laneCount{}, keyed))
	}, prefix, localrunner.WithMaxBundleSize(25), localrunner.WithParallelism(4))
	if err != nil {
		t.Fatal(err)
	}
	if got := values(takeRecords(prefix + "counts")); !slices.Equal(got, want) {
		t.Errorf("got %d counts, want each of 40 keys counted to %d once", len(got), n/40)
	}
	if m := laneMost.Load(); m < 2 {
		t.Errorf("at most %d element(s) of the stateful DoFn ran at once, want bundles in parallel", m)
	}
}
