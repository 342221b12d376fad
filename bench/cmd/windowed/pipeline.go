package main

import (
	"context"
	"strings"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/window"
)

// pipeline is one run of one mode, started.
type pipeline struct {
	*harness.Process
	group, output string
}

// startPipeline starts mode m reading input, with a consumer group and an
// output topic of its own named after tag.
func startPipeline(ctx context.Context, o options, env *harness.Env, m, tag, input string) (*pipeline, error) {
	pl := &pipeline{group: "bench-" + tag, output: "bench-out-" + tag}
	if err := harness.CreateTopic(ctx, env.Admin, pl.output, partitions); err != nil {
		return nil, err
	}
	var err error
	switch m {
	case "franz":
		pl.Process, err = env.StartProgram(tag, "windowloop",
			"-brokers", strings.Join(env.Brokers, ","), "-topic", input, "-group", pl.group, "-output", pl.output)
	default:
		adapter := "local"
		if m == "prism" {
			adapter = "beam"
		}
		pl.Process, err = env.StartPipeline(tag, "windowpipeline", adapter, harness.PipelineConfig{Brokers: env.Brokers,
			SourceStep: window.SourceStep, Input: input, Group: pl.group, SinkStep: window.SinkStep, Output: pl.output, WatermarkSkew: o.skew, MemoryState: o.memory})
	}
	if err != nil {
		return nil, err
	}
	return pl, nil
}
