package beamtranslate

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/dsl"
)

// DevNull is the devnull sink (dsl.DevNullSink): it discards messages,
// and can simulate batched writes for benchmarks, as Sentry Streams'
// DevNullSink does.
var DevNull = Sink{
	Spec: component.Spec{
		Kind: "devnull_sink", Label: "devnull",
		Doc: `A devnull sink discards messages, and can simulate batched writes for
benchmarks, as Sentry Streams' DevNullSink does: it counts messages into
a batch and writes the batch, which does nothing but sleep, when it
holds batch_size messages or its first message arrived batch_time_ms
ago (checked at each message and at the end of each bundle). The sleep
is a uniform random 0.5 to 1.5 times average_sleep_time_ms, capped at
max_sleep_time_ms; it holds up the sink, as a slow write would. The
batches written and the sleeps chosen are the Beam metrics
streams/devnull_batches and streams/devnull_sleep_us. On every runner.`,
		Keys: []component.Key{
			{Name: "batch_size", Type: component.Int, Example: "10", Doc: "integer >= 1", Check: component.AtLeast(1)},
			{Name: "batch_time_ms", Type: component.Millis, Example: "100", Doc: "number > 0", Check: component.Positive},
			{Name: "average_sleep_time_ms", Type: component.Millis, Example: "1",
				Doc: "number >= 0; needs max_sleep_time_ms, and batch_size or batch_time_ms", Check: component.NotNegative},
			{Name: "max_sleep_time_ms", Type: component.Millis, Example: "5", Doc: "number >= 0", Check: component.NotNegative},
		},
		Check: func(v component.Values, problem func(key, msg string)) {
			if v.IsSet("average_sleep_time_ms") && !v.IsSet("max_sleep_time_ms") {
				problem("average_sleep_time_ms", "needs max_sleep_time_ms as well")
			}
			if v.IsSet("average_sleep_time_ms") && !v.IsSet("batch_size") && !v.IsSet("batch_time_ms") {
				// As in Sentry Streams, a devnull sink sleeps when it
				// writes a batch: without a bound there are no batches.
				problem("average_sleep_time_ms", "a devnull sink sleeps when it writes a batch: needs batch_size or batch_time_ms")
			}
		},
	},
	Kind: dsl.SinkDevNull,
	Translate: func(c SinkContext, s beam.Scope, n *dsl.Node, v component.Values, in beam.PCollection) error {
		beam.ParDo0(s, &devNullFn{Pipeline: c.Pipeline, Step: n.Name(),
			BatchSize: v.Int("batch_size"), BatchTime: v.Duration("batch_time_ms"),
			AverageSleep: v.Duration("average_sleep_time_ms"), MaxSleep: v.Duration("max_sleep_time_ms")}, in)
		return nil
	},
}

// devNullFn discards messages, counting them, and simulates batched
// writes (see DevNull): a batch is written, which does nothing but sleep,
// when it holds BatchSize messages or its first message arrived
// BatchTime ago; 0 means no bound, and without either there are no
// batches and no sleeps. A write sleeps a uniform random 0.5 to 1.5 times
// AverageSleep, capped at MaxSleep. The batches it writes are counted in the
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
