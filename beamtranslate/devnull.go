package beamtranslate

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// DevNullBinding is a devnull sink's simulation of batched writes (the
// deployment config's batch_size, batch_time_ms, average_sleep_time_ms and
// max_sleep_time_ms), as Sentry Streams' DevNullSink does it: messages are
// counted into a batch, and a batch is written, which does nothing but
// sleep, when it holds BatchSize messages or its first message arrived
// BatchTime ago (checked at each message and at the end of each bundle).
// The zero value discards messages without batching.
type DevNullBinding struct {
	// BatchSize bounds a batch by messages; 0 means no bound.
	BatchSize int
	// BatchTime bounds a batch by the age of its first message; 0 means
	// no bound. Without either bound there are no batches, and no sleeps.
	BatchTime time.Duration
	// AverageSleep is the mean time a batch write sleeps: a uniform
	// random 0.5 to 1.5 times it, capped at MaxSleep. 0 means no sleep.
	AverageSleep time.Duration
	MaxSleep     time.Duration
}

// devNullFn discards messages, counting them, and simulates batched
// writes per its DevNullBinding: the batches it writes are counted in the
// Beam counter streams/devnull_batches, and each sleep it chooses goes,
// in microseconds, to the distribution streams/devnull_sleep_us.
type devNullFn struct {
	Pipeline     string        `json:",omitempty"`
	Step         string        `json:",omitempty"`
	BatchSize    int           `json:",omitempty"`
	BatchTime    time.Duration `json:",omitempty"`
	AverageSleep time.Duration `json:",omitempty"`
	MaxSleep     time.Duration `json:",omitempty"`

	discarded, batches beam.Counter
	slept              beam.Distribution
	pending            int       // messages in the open batch
	started            time.Time // when its first message arrived
	counted
}

func newDevNullFn(pipeline, step string, b DevNullBinding) *devNullFn {
	return &devNullFn{Pipeline: pipeline, Step: step, BatchSize: b.BatchSize, BatchTime: b.BatchTime,
		AverageSleep: b.AverageSleep, MaxSleep: b.MaxSleep}
}

func (fn *devNullFn) Setup() {
	fn.discarded = beam.NewCounter("streams", "devnull_messages")
	fn.batches = beam.NewCounter("streams", "devnull_batches")
	fn.slept = beam.NewDistribution("streams", "devnull_sleep_us")
	fn.counted.setup(fn.Pipeline, fn.Step)
}

func (fn *devNullFn) ProcessElement(ctx context.Context, _ element) error {
	fn.n++
	fn.discarded.Inc(ctx, 1)
	if fn.BatchSize <= 0 && fn.BatchTime <= 0 {
		return nil
	}
	if fn.pending == 0 {
		fn.started = time.Now()
	}
	fn.pending++
	return fn.flushIfDue(ctx)
}

// FinishBundle writes the open batch if its time is up; a batch that is
// not stays open into the next bundle.
func (fn *devNullFn) FinishBundle(ctx context.Context) error {
	fn.counted.flush(ctx)
	return fn.flushIfDue(ctx)
}

// flushIfDue writes the open batch when it is full or old enough: it
// counts it and sleeps as a write would take.
func (fn *devNullFn) flushIfDue(ctx context.Context) error {
	full := fn.BatchSize > 0 && fn.pending >= fn.BatchSize
	old := fn.BatchTime > 0 && fn.pending > 0 && time.Since(fn.started) >= fn.BatchTime
	if !full && !old {
		return nil
	}
	fn.pending = 0
	fn.batches.Inc(ctx, 1)
	d := fn.sleepTime(rand.Float64())
	if d <= 0 {
		return nil
	}
	fn.slept.Update(ctx, d.Microseconds())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleepTime is a batch write's sleep for u uniform in [0, 1): 0.5 to 1.5
// times AverageSleep, capped at MaxSleep.
func (fn *devNullFn) sleepTime(u float64) time.Duration {
	if fn.AverageSleep <= 0 {
		return 0
	}
	d := time.Duration(float64(fn.AverageSleep) * (0.5 + u))
	return min(d, fn.MaxSleep)
}
