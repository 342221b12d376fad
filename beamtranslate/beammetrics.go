package beamtranslate

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/streams-dev/streams/observe"
)

// Beam counters
//
// The DoFns count each step's messages into the process's metrics
// (package observe: /metrics and the live page). On a remote runner those
// stay in the workers, out of everyone's sight, so the same counts go to
// Beam counters too, which every runner collects: Flink's metric
// reporters, Dataflow's monitoring, the Job API (`jobs show`). They are
// added once per bundle, as the process's metrics are; with no Beam
// metric store in the context (the bundled runner's encoded path) an
// add costs a type check.

// MetricNamespace is the namespace of the Beam counters; their names are
// "<step>.in", "<step>.out", "<step>.errors" and "<step>.dlq".
const MetricNamespace = "streams"

// stepMetrics are one step's counts in both places: the process's
// metrics and its Beam counters.
type stepMetrics struct {
	obs  *observe.Step // nil: the process keeps no metrics
	beam stepCounters
}

func newStepMetrics(pl *observe.Pipeline, step string) stepMetrics {
	return stepMetrics{obs: pl.Step(step), beam: newStepCounters(step)}
}

// add adds a bundle's counts to both.
func (m *stepMetrics) add(ctx context.Context, in, out, errors uint64) {
	m.obs.Add(in, out, errors)
	m.beam.add(ctx, in, out, errors)
}

// stepCounters are one step's Beam counters.
type stepCounters struct{ in, out, errors beam.Counter }

func newStepCounters(step string) stepCounters {
	return stepCounters{
		in:     beam.NewCounter(MetricNamespace, step+".in"),
		out:    beam.NewCounter(MetricNamespace, step+".out"),
		errors: beam.NewCounter(MetricNamespace, step+".errors"),
	}
}

// add adds a bundle's counts.
func (c *stepCounters) add(ctx context.Context, in, out, errors uint64) {
	if in > 0 {
		c.in.Inc(ctx, int64(in))
	}
	if out > 0 {
		c.out.Inc(ctx, int64(out))
	}
	if errors > 0 {
		c.errors.Inc(ctx, int64(errors))
	}
}

// dlqCounters are the "<step>.dlq" counters, made on first use.
type dlqCounters map[string]beam.Counter

func (d dlqCounters) inc(ctx context.Context, step string) {
	c, ok := d[step]
	if !ok {
		c = beam.NewCounter(MetricNamespace, step+".dlq")
		d[step] = c
	}
	c.Inc(ctx, 1)
}
