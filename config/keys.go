package config

import (
	"slices"

	"github.com/streams-dev/streams/component"
)

// Keys returns the path of every key a config accepts, sorted, from the
// lists the decoder accepts keys from. A path joins keys with dots; "[]"
// stands for any entry of a list and "<step>" for any step name, so a
// source's topic is "pipeline.segments[].steps_config.<step>.topic". The
// keys of metrics depend on its type and are listed per type as
// "metrics.<type>.<key>" ("metrics.log.period_sec" is period_sec beside
// type: log). The values of free-form sections (env) and of
// override_params are not keys of the config: they are listed as their
// section alone.
//
// The keys of the given components are steps_config keys too, as with
// [WithComponents].
//
// A runner's test can hold every key to a test of its effect (or of the
// warning that it has none): a key added to the config shows up here.
func Keys(components ...component.Spec) []string {
	var out []string
	add := func(prefix string, keys []string) {
		for _, k := range keys {
			out = append(out, join(prefix, k))
		}
	}
	add("", topKeys)
	for typ, keys := range metricsKeys {
		add(join("metrics", string(typ)), keys)
	}
	add("sentry_sdk_config", sentryKeys)
	add("pipeline", pipelineKeys)
	add("pipeline.adapter_config", adapterKeys)
	add("pipeline.adapter_config.arroyo", arroyoKeys)
	add("pipeline.segments[]", segmentKeys)
	step := "pipeline.segments[].steps_config.<step>"
	out = append(out, step)
	add(step, stepKeysWith(components))
	add(join(step, "dlq"), dlqKeys)
	add(join(step, "parallelism"), parallelismKeys)
	add(join(join(step, "parallelism"), "multi_process"), multiProcessKeys)
	add(join(step, "batch_timedelta"), timedeltaKeys)
	slices.Sort(out)
	return slices.Compact(out)
}
