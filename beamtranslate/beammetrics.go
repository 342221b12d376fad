package beamtranslate

import (
	"context"

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
//
// The build tag streams_nobeammetrics ([NoBeamMetricsTag]) leaves the
// Beam counters out (beamcounters_off.go): it exists so that `make bench`
// can measure what they cost the bundled runner, side by side in one run
// (bench/cmd/throughput, mode local-nobm). Not for production: a remote
// runner then shows no step counts.

// MetricNamespace is the namespace of the Beam counters; their names are
// "<step>.in", "<step>.out", "<step>.errors" and "<step>.dlq".
const MetricNamespace = "streams"

// NoBeamMetricsTag is the build tag that leaves the Beam counters out.
const NoBeamMetricsTag = "streams_nobeammetrics"

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
