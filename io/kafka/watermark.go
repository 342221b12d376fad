package kafka

import (
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
)

// watermarkEstimator is the read's watermark: the newest record timestamp
// seen minus the skew, moved to now minus the skew when the partition is
// idle. It only moves forward. The SDK calls ObserveTimestamp for every
// emitted record; the runner's progress and split requests read the
// watermark from other goroutines, hence the atomic.
type watermarkEstimator struct {
	ms   atomic.Int64 // the watermark, Unix milliseconds
	skew time.Duration
}

func newWatermarkEstimator(ms int64, skew time.Duration) *watermarkEstimator {
	e := &watermarkEstimator{skew: skew}
	e.ms.Store(ms)
	return e
}

// CurrentWatermark implements sdf.WatermarkEstimator.
func (e *watermarkEstimator) CurrentWatermark() time.Time {
	return time.UnixMilli(e.ms.Load())
}

// ObserveTimestamp implements sdf.TimestampObservingEstimator.
func (e *watermarkEstimator) ObserveTimestamp(t time.Time) {
	e.advance(t.Add(-e.skew))
}

// advance moves the watermark to t if that is later.
func (e *watermarkEstimator) advance(t time.Time) {
	ms := t.UnixMilli()
	for {
		cur := e.ms.Load()
		if ms <= cur || e.ms.CompareAndSwap(cur, ms) {
			return
		}
	}
}

func (e *watermarkEstimator) state() int64 { return e.ms.Load() }

// endEstimator estimates the end of a growable restriction as the
// high-water mark of the partition's client, once ProcessElement binds it;
// before that it reports no backlog. It must not block: the runner asks
// for it during progress and split requests.
type endEstimator struct {
	pr atomic.Pointer[partitionReader]
}

func (e *endEstimator) bind(pr *partitionReader) { e.pr.Store(pr) }

// Estimate implements offsetrange.RangeEndEstimator.
func (e *endEstimator) Estimate() int64 {
	if pr := e.pr.Load(); pr != nil {
		return pr.highWatermark()
	}
	return 0
}

// partitionTracker is the growable offset-range tracker of one partition.
// It refuses runner-initiated splits (fraction > 0), which would read one
// partition from two places at once, out of order, and let offset commits
// overtake each other; it accepts checkpoints (fraction 0), which is what
// self-checkpointing and runners' checkpoint requests use. Partitions are
// the unit of parallelism.
type partitionTracker struct {
	*offsetrange.GrowableTracker
	end *endEstimator
}

// TrySplit implements sdf.RTracker.
func (t *partitionTracker) TrySplit(fraction float64) (primary, residual any, err error) {
	if fraction > 0 {
		return t.GetRestriction(), nil, nil
	}
	return t.GrowableTracker.TrySplit(fraction)
}
