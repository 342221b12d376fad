package localrunner_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/test/integration"
	"github.com/apache/beam/sdks/v2/go/test/regression"
)

// TestBeamRegression runs the pipelines of Beam's test/regression, which
// Beam's validates-runner script runs beside the integration suite: ParDo
// output shapes (direct, emitter, both, after a GroupByKey) and the
// length-prefix coder regressions (BEAM-12438: a GroupByKey and a
// CoGroupByKey of the same schema-coded input; schema rows through a
// Reshuffle, checked by passert, a side input and a counting DoFn).
// Refusals fail as in TestBeamPrimitives.
//
// Beam's lperror_test.go checks the Reshuffle's output with its package's
// unexported fruit type and DoFns; here the same checks go through the
// fruit's printed form ("{Apple}") and a counter of the same name.
func TestBeamRegression(t *testing.T) {
	lpError := func() *beam.Pipeline {
		p, s := beam.NewPipelineWithRoot()
		passert.Equals(s, regression.LPErrorPipeline(s), beam.CreateList(s, []int{0}))
		return p
	}
	reshuffle := func(check func(s beam.Scope, fruits beam.PCollection), count bool) func() *beam.Pipeline {
		return func() *beam.Pipeline {
			p, s := beam.NewPipelineWithRoot()
			fruits := regression.LPErrorReshufflePipeline(s)
			if count {
				fruits = beam.ParDo(s, countFruit, fruits)
			}
			if check != nil {
				check(s, fruits)
			}
			return p
		}
	}
	for _, tc := range []struct {
		name  string
		build func() *beam.Pipeline
		count bool // the pipeline counts fruit in regression/fruitCount
	}{
		{name: "TestDirectParDo", build: regression.DirectParDo},
		{name: "TestEmitParDo", build: regression.EmitParDo},
		{name: "TestMultiEmitParDo", build: regression.MultiEmitParDo},
		{name: "TestMixedOutputParDo", build: regression.MixedOutputParDo},
		{name: "TestDirectParDoAfterGBK", build: regression.DirectParDoAfterGBK},
		{name: "TestEmitParDoAfterGBK", build: regression.EmitParDoAfterGBK},
		{name: "TestLPErrorPipeline", build: lpError},
		{name: "TestLPErrorReshufflePipeline", build: reshuffle(nil, false)},
		{name: "TestLPErrorReshufflePipeline_PAssert", build: reshuffle(assertFruits, false)},
		{name: "TestLPErrorReshufflePipeline_SideInput", build: reshuffle(sideFruits, false)},
		{name: "TestLPErrorReshufflePipeline_DoFn", build: reshuffle(nil, true), count: true},
		{name: "TestLPErrorReshufflePipeline_DoFnPAssert", build: reshuffle(assertFruits, true), count: true},
		{name: "TestLPErrorReshufflePipeline_DoFnSideInput", build: reshuffle(sideFruits, true), count: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			integration.CheckFilters(t)
			res := runSuite(t, tc.build(), refused[tc.name])
			if !tc.count {
				return
			}
			cs := res.Metrics().Query(func(r metrics.SingleResult) bool {
				return r.Namespace() == regression.MetricNamespace && r.Name() == regression.FruitCounterName
			}).Counters()
			if len(cs) == 0 || cs[0].Result() != 3 {
				t.Errorf("counter %s/%s: %v, want one of 3", regression.MetricNamespace, regression.FruitCounterName, cs)
			}
		})
	}
}

// fruits are the regression pipeline's fruit, as printed.
var fruits = []string{"{Apple}", "{Banana}", "{Cherry}"}

// fruitName prints a fruit of the regression package (whose type is
// unexported).
func fruitName(v beam.X) string { return fmt.Sprint(v) }

// countFruit counts fruit as Beam's countFruit does.
func countFruit(ctx context.Context, v beam.X) beam.X {
	beam.NewCounter(regression.MetricNamespace, regression.FruitCounterName).Inc(ctx, 1)
	return v
}

// sideFruitsFn checks that its side input holds Wants, in any order.
type sideFruitsFn struct{ Wants []string }

func (f *sideFruitsFn) ProcessElement(_ []byte, iter func(*beam.X) bool) error {
	var got []string
	var v beam.X
	for iter(&v) {
		got = append(got, fmt.Sprint(v))
	}
	slices.Sort(got)
	if !slices.Equal(got, f.Wants) {
		return fmt.Errorf("side input %v, want %v", got, f.Wants)
	}
	return nil
}

func init() {
	register.Function1x1(fruitName)
	register.Function2x1(countFruit)
	register.DoFn2x1[[]byte, func(*beam.X) bool, error](&sideFruitsFn{})
	register.Iter1[beam.X]()
}

func assertFruits(s beam.Scope, col beam.PCollection) {
	passert.Equals(s, beam.ParDo(s, fruitName, col), fruits[0], fruits[1], fruits[2])
}

func sideFruits(s beam.Scope, col beam.PCollection) {
	beam.ParDo0(s, &sideFruitsFn{Wants: fruits}, beam.Impulse(s), beam.SideInput{Input: col})
}
