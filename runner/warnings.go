package runner

import (
	"maps"
	"slices"
	"strings"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

// warning is what Run logs at start about a config key that has no effect
// in this run: a key kept so that Sentry Streams configs load unchanged,
// or a key of the bundled runner in a run on a Beam runner.
type warning struct {
	Msg string
	// Step names the step whose entry sets Keys; empty for keys outside
	// steps_config.
	Step string
	// Keys are the keys without effect, by their path under the step's
	// entry (or in the file), sorted.
	Keys []string
}

func (w warning) attrs() []any {
	var a []any
	if w.Step != "" {
		a = append(a, "step", w.Step)
	}
	return append(a, "keys", strings.Join(w.Keys, ","))
}

// bundledOnly are the step keys only the bundled runner reads.
var bundledOnly = []string{"changelog_replication_factor", "commit_interval_ms", "commit_records", "internal_topic_partitions", "parallelism"}

// startupWarnings returns what Run warns about before it runs g on the
// adapter with the config's segment seg: each key set that has no effect,
// once, in the order of the file.
func startupWarnings(g *dsl.Graph, cfg *config.Config, seg *config.Segment, adapter string) []warning {
	var ws []warning
	if len(cfg.Env) > 0 {
		ws = append(ws, warning{
			Msg:  "env has no effect: it is kept for Sentry Streams configs, whose adapters do not read it either",
			Keys: prefixed("env.", slices.Sorted(maps.Keys(cfg.Env))),
		})
	}
	if seg.Parallelism != 0 {
		ws = append(ws, warning{
			Msg:  "a segment's parallelism is a legacy Sentry Streams key and has no effect: set parallelism on the steps",
			Keys: []string{"parallelism"},
		})
	}
	for _, n := range g.Nodes() {
		name := n.Name()
		sc, ok := seg.Steps[name]
		if !ok {
			continue
		}
		if sc.StartsSegment && !slices.Contains(cfg.SegmentHeads(), name) {
			// In the first segment: Sentry Streams' chain boundary.
			ws = append(ws, warning{
				Msg:  "starts_segment in the first segment has no effect: its steps run in this process, fused as the runner plans them, and parallelism works without it; a later segment of pipeline.segments starts at the step that sets it",
				Step: name, Keys: []string{"starts_segment"},
			})
		}
		if ignored := sc.MultiProcess.Ignored(); len(ignored) > 0 {
			ws = append(ws, warning{
				Msg:  "of parallelism.multi_process only processes has an effect (the step's parallelism): the other keys are kept for Sentry Streams configs and ignored",
				Step: name, Keys: prefixed("parallelism.multi_process.", ignored),
			})
		}
		countWindow := n.Reducer() != nil && n.Reducer().Window().IsCount()
		if countWindow && sc.IsSet("on_late") {
			ws = append(ws, warning{
				Msg:  "on_late has no effect on a count window: it closes when full, whatever the watermark, and no message is late",
				Step: name, Keys: []string{"on_late"},
			})
		}
		if adapter != AdapterBeam {
			continue
		}
		var keys []string
		for _, k := range bundledOnly {
			if sc.IsSet(k) {
				keys = append(keys, k)
			}
		}
		if sc.OnLate == config.OnLateDLQ && !countWindow { // warned above
			keys = append(keys, "on_late")
		}
		if len(keys) > 0 {
			slices.Sort(keys)
			ws = append(ws, warning{
				Msg:  "these keys have an effect on the bundled runner only (--adapter local), not with --adapter beam: set a Beam runner's parallelism with its own options (Flink's --parallelism, Dataflow's --max_num_workers); it commits offsets and drops late data its own way",
				Step: name, Keys: keys,
			})
		}
	}
	return ws
}

func prefixed(prefix string, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = prefix + k
	}
	return out
}
