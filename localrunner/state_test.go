package localrunner_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/streams-dev/streams/localrunner"
)

// runningCount counts the elements of each key with Value state and keeps
// them in Bag state, emitting "key#count".
type runningCount struct {
	Count state.Value[int]
	Seen  state.Bag[int]
}

func (f *runningCount) ProcessElement(p state.Provider, key string, v int) (string, error) {
	n, _, err := f.Count.Read(p)
	if err != nil {
		return "", err
	}
	if err := f.Count.Write(p, n+1); err != nil {
		return "", err
	}
	if err := f.Seen.Add(p, v); err != nil {
		return "", err
	}
	seen, _, err := f.Seen.Read(p)
	if err != nil {
		return "", err
	}
	if len(seen) != n+1 {
		return "", fmt.Errorf("key %s: bag holds %d values after %d adds", key, len(seen), n+1)
	}
	return key + "#" + strconv.Itoa(n+1), nil
}

func mod5(x int) (string, int) { return strconv.Itoa(x % 5), x }

func init() {
	register.DoFn3x2[state.Provider, string, int, string, error](&runningCount{})
	register.Function1x2(mod5)
}

// TestUserState runs a stateful DoFn over many small bundles: each sees
// the state its predecessors committed, whatever the parallelism.
func TestUserState(t *testing.T) {
	const n = 200
	var in []int
	for i := range n {
		in = append(in, i)
	}
	var want []string
	for k := range 5 {
		for c := 1; c <= n/5; c++ {
			want = append(want, strconv.Itoa(k)+"#"+strconv.Itoa(c))
		}
	}
	slices.Sort(want)
	b := func(s beam.Scope, prefix string) {
		keyed := beam.ParDo(s, mod5, beam.CreateList(s, in))
		collect(s, prefix+"counts", beam.ParDo(s, &runningCount{}, keyed))
	}
	// Checked against the counts themselves, not against prism: prism
	// splits the bundles of a stateful DoFn and, under load, runs an
	// element twice (seen: "1#1" twice), so it is no oracle here.
	for i, opts := range [][]localrunner.Option{
		{localrunner.WithMaxBundleSize(7), localrunner.WithParallelism(4)},
		nil, // the defaults
	} {
		prefix := t.Name() + "/" + strconv.Itoa(i) + "/"
		if _, err := runLocal(t, b, prefix, opts...); err != nil {
			t.Fatal(err)
		}
		if got := values(takeRecords(prefix + "counts")); !slices.Equal(got, want) {
			t.Errorf("options %d: got %d counts %v..., want each key counted to %d once", i, len(got), got[:min(len(got), 10)], n/5)
		}
	}
}
