//go:build streams_nobeammetrics

package beamtranslate

import "context"

// Built with the tag streams_nobeammetrics ([NoBeamMetricsTag]): the
// steps count into no Beam counter, for the benchmark that measures what
// the counters cost (see beammetrics.go).

type stepCounters struct{}

func newStepCounters(string) stepCounters { return stepCounters{} }

func (*stepCounters) add(context.Context, uint64, uint64, uint64) {}

type dlqCounters map[string]struct{}

func (dlqCounters) inc(context.Context, string) {}
