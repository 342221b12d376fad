package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/window"
)

// groupProcesses is how many bundled-runner processes mode local2 runs in
// one consumer group.
const groupProcesses = 2

// beforeProgram is the name, in the bin directory, of the pipeline binary
// -local-bin-before gives (mode local-before).
const beforeProgram = "windowpipeline-before"

// pipeline is one run of one mode, started: one process, or, for local2,
// groupProcesses processes in one consumer group, each with its own
// state directory and log.
type pipeline struct {
	procs         []*harness.Process
	start         time.Time // when the first process started
	group, output string
}

// startPipeline starts mode m reading input, with a consumer group and an
// output topic of its own named after tag.
func startPipeline(ctx context.Context, o options, env *harness.Env, m, tag, input string) (*pipeline, error) {
	pl := &pipeline{group: "bench-" + tag, output: "bench-out-" + tag}
	if err := harness.CreateTopic(ctx, env.Admin, pl.output, partitions); err != nil {
		return nil, err
	}
	cfg := harness.PipelineConfig{Brokers: env.Brokers, SourceStep: window.SourceStep, Input: input, Group: pl.group,
		SinkStep: window.SinkStep, Output: pl.output, WatermarkSkew: o.skew, MemoryState: o.memory, ExactlyOnce: m == "local-eos"}
	var err error
	switch m {
	case "franz":
		err = pl.add(env.StartProgram(tag, "windowloop",
			"-brokers", strings.Join(env.Brokers, ","), "-topic", input, "-group", pl.group, "-output", pl.output))
	case "prism":
		err = pl.add(env.StartPipeline(tag, "windowpipeline", "beam", cfg))
	case "local-before":
		err = pl.add(env.StartPipeline(tag, beforeProgram, "local", cfg))
	case "local2", "shuffle2":
		// Started one right after the other, so that both join the group
		// together and share the backlog from the start.
		prog := "windowpipeline"
		if m == "shuffle2" {
			prog = "windowshuffle"
		}
		for i := 0; i < groupProcesses && err == nil; i++ {
			err = pl.add(env.StartPipeline(fmt.Sprintf("%s-p%d", tag, i+1), prog, "local", cfg))
		}
	case "shuffle":
		err = pl.add(env.StartPipeline(tag, "windowshuffle", "local", cfg))
	default:
		err = pl.add(env.StartPipeline(tag, "windowpipeline", "local", cfg))
	}
	if err != nil {
		pl.kill()
		return nil, err
	}
	return pl, nil
}

// add adds a started process, or returns the error of its start.
func (pl *pipeline) add(p *harness.Process, err error) error {
	if err != nil {
		return err
	}
	if len(pl.procs) == 0 {
		pl.start = p.Start
	}
	pl.procs = append(pl.procs, p)
	return nil
}

// exited returns an error, with the tail of its log, if one of the
// pipeline's processes has exited; nil while they all run.
func (pl *pipeline) exited() error {
	for i, p := range pl.procs {
		if !p.Exited() {
			continue
		}
		if len(pl.procs) == 1 {
			return fmt.Errorf("pipeline exited (%v); last log lines:\n%s", p.WaitErr, p.LogTail(20))
		}
		return fmt.Errorf("pipeline process %d of %d exited (%v); last log lines:\n%s", i+1, len(pl.procs), p.WaitErr, p.LogTail(20))
	}
	return nil
}

// logTail is the last n lines of each process's log.
func (pl *pipeline) logTail(n int) string {
	if len(pl.procs) == 1 {
		return pl.procs[0].LogTail(n)
	}
	var b strings.Builder
	for i, p := range pl.procs {
		fmt.Fprintf(&b, "  process %d of %d:\n%s\n", i+1, len(pl.procs), p.LogTail(n))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// cpu is the CPU seconds of the pipeline's processes and their
// descendants, added up.
func (pl *pipeline) cpu() (float64, error) {
	pids := make([]int, len(pl.procs))
	for i, p := range pl.procs {
		pids[i] = p.PID()
	}
	return harness.TreeCPUSeconds(pids...)
}

// peakRSS is the sum of the processes' peak RSS: an upper bound of the
// pipeline's footprint, since they need not peak at the same moment.
func (pl *pipeline) peakRSS() int64 {
	var sum int64
	for _, p := range pl.procs {
		sum += p.PeakRSS()
	}
	return sum
}

// terminate sends SIGTERM to every process at once, as an orchestrator
// stopping a deployment does, and waits for them (see
// [harness.Process.Terminate]).
func (pl *pipeline) terminate(grace time.Duration) error {
	errs := make([]error, len(pl.procs))
	var wg sync.WaitGroup
	for i, p := range pl.procs {
		wg.Go(func() { errs[i] = p.Terminate(grace) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// kill kills every process still running.
func (pl *pipeline) kill() {
	for _, p := range pl.procs {
		p.Kill()
	}
}
