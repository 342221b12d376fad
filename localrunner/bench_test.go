package localrunner_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/streams-dev/streams/localrunner"
)

var tally atomic.Int64

func tallyFn(_ int64) { tally.Add(1) }

func plusOne(x int64) int64 { return x + 1 }

func init() {
	register.Function1x0(tallyFn)
	register.Function1x1(plusOne)
}

// BenchmarkElements measures elements per second through an SDF source and
// two ParDos, fused in one stage or split across a stage boundary by a
// Flatten (where the runner hands encoded batches between stages).
func BenchmarkElements(b *testing.B) {
	const n = 200_000
	for _, tc := range []struct {
		name     string
		boundary bool
	}{{"fused", false}, {"boundary", true}} {
		b.Run(tc.name, func(b *testing.B) {
			r, err := localrunner.New()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				tally.Store(0)
				p, s := beam.NewPipelineWithRoot()
				col := beam.ParDo(s, plusOne, beam.ParDo(s, &rangeFn{N: n, Step: n}, beam.Impulse(s)))
				if tc.boundary {
					col = beam.Flatten(s, col, beam.CreateList(s, []int64{}))
				}
				beam.ParDo0(s, tallyFn, beam.ParDo(s, plusOne, col))
				if _, err := r.Run(context.Background(), p); err != nil {
					b.Fatal(err)
				}
				if got := tally.Load(); got != n {
					b.Fatalf("%d elements, want %d", got, n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "elements/s")
		})
	}
}
