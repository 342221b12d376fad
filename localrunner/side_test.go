package localrunner_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/streams-dev/streams/localrunner"
)

// sumSide adds the sum of the side input to x.
func sumSide(x int, side func(*int) bool) int {
	var v, sum int
	for side(&v) {
		sum += v
	}
	return x + sum
}

// lookup joins a name with its phone numbers from a map side input.
func lookup(name string, phones func(string) func(*string) bool) string {
	var ps []string
	var p string
	for it := phones(name); it(&p); {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return name + ":" + strings.Join(ps, ",")
}

func splitPair(s string) (string, string) {
	k, v, _ := strings.Cut(s, "=")
	return k, v
}

func init() {
	register.Function2x1(sumSide)
	register.Iter1[int]()
	register.Function2x1(lookup)
	register.Iter1[string]()
	register.Function1x2(splitPair)
}

func TestSideInputs(t *testing.T) {
	got := runBoth(t, func(s beam.Scope, prefix string) {
		nums := beam.Create(s, 1, 2, 3)
		// Iterable side input, from a PCollection also read as main input.
		collect(s, prefix+"sum", beam.ParDo(s.Scope("sum"), sumSide, nums, beam.SideInput{Input: nums}))
		// Iterable side input produced through a Flatten.
		more := beam.Flatten(s, nums, beam.Create(s, 100))
		collect(s, prefix+"flat", beam.ParDo(s.Scope("flat"), sumSide, beam.Create(s, 0), beam.SideInput{Input: more}))
		// Multimap side input.
		phones := beam.ParDo(s, splitPair, beam.Create(s, "amy=111", "bob=222", "amy=333"))
		collect(s, prefix+"join", beam.ParDo(s.Scope("join"), lookup, beam.Create(s, "amy", "bob", "eve"), beam.SideInput{Input: phones}))
		// Windowed side input: each element sees its own window's side input.
		stamped := beam.WindowInto(s, window.NewFixedWindows(10*time.Second), beam.ParDo(s, stamp, beam.Create(s, 1, 2, 15)))
		collect(s, prefix+"windowed", beam.ParDo(s.Scope("windowed"), sumSide, stamped, beam.SideInput{Input: stamped}))
	}, "sum", "flat", "join", "windowed")
	for name, want := range map[string][]string{
		"sum":      {"7", "8", "9"},
		"flat":     {"106"},
		"join":     {"amy:111,333", "bob:222", "eve:"},
		"windowed": {"30", "4", "5"},
	} {
		if !slices.Equal(values(got[name]), want) {
			t.Errorf("%s: got %v, want %v", name, values(got[name]), want)
		}
	}
}

func TestPassertEquals(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	passert.Equals(s, beam.ParDo(s, double, beam.Create(s, 1, 2, 3)), 2, 4, 6)
	if _, err := localrunner.Execute(t.Context(), p); err != nil {
		t.Fatalf("passing passert.Equals: %v", err)
	}

	p, s = beam.NewPipelineWithRoot()
	passert.Equals(s.Scope("check"), beam.ParDo(s, double, beam.Create(s, 1, 2, 3)), 2, 4, 7)
	_, err := localrunner.Execute(t.Context(), p)
	var te *localrunner.TransformError
	if !errors.As(err, &te) || !strings.Contains(te.Transform, "passert") || !strings.Contains(err.Error(), "7") {
		t.Fatalf("failing passert.Equals: %v, want a TransformError from passert naming the missing 7", err)
	}
	t.Log(fmt.Sprint(err))
}
