//go:build !streams_nobeammetrics

package beamtranslate

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

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
