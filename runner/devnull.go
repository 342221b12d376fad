package runner

import (
	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

// devNullBindings returns the batched-write simulation of each devnull
// sink whose config sets one (batch_size, batch_time_ms,
// average_sleep_time_ms, max_sleep_time_ms), by step name; nil when none
// does.
func devNullBindings(g *dsl.Graph, seg *config.Segment) map[string]beamtranslate.DevNullBinding {
	var out map[string]beamtranslate.DevNullBinding
	for _, n := range g.Sinks() {
		if n.SinkKind() != dsl.SinkDevNull {
			continue
		}
		sc := seg.Step(n.Name(), config.DevNullSink)
		b := beamtranslate.DevNullBinding{BatchSize: sc.BatchSize, BatchTime: sc.BatchTime,
			AverageSleep: sc.AverageSleepTime, MaxSleep: sc.MaxSleepTime}
		if b == (beamtranslate.DevNullBinding{}) {
			continue
		}
		if out == nil {
			out = map[string]beamtranslate.DevNullBinding{}
		}
		out[n.Name()] = b
	}
	return out
}
