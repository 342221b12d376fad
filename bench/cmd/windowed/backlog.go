package main

import (
	"context"
	"fmt"
	"time"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/window"
)

// commitGrace is how long a backlog run waits, after its output is
// complete, for the group to commit the whole input: a few commit
// intervals (1 s). The bundled runner never commits the records waiting
// in windows, so its runs take the whole grace.
const commitGrace = 3 * time.Second

// backlogResult is one backlog run.
type backlogResult struct {
	mode string
	run  int
	// elapsed is from the start until the output was complete, or until
	// the cap.
	elapsed   time.Duration
	capped    bool
	first     time.Duration // from the start until the first result
	committed int64         // input records the group had committed then
	// allCommitted is from the start until the group had committed every
	// event of every partition (the closing records need not be): where the
	// run ends; 0 if that did not happen within commitGrace after the
	// output was complete. committedEnd is how many events the group had
	// committed by the end.
	allCommitted time.Duration
	committedEnd int64
	cpu          float64 // pipeline process trees, CPU seconds
	brokerCPU    float64
	rssBytes     int64 // the sum over the pipeline's processes
	out          verdict
	load         float64
	stopErr      error
}

// commits says when every event was committed, or how many were.
func (r backlogResult) commits(in *input) string {
	if r.allCommitted == 0 {
		return fmt.Sprintf("%d of %d events committed %v after the output was complete", r.committedEnd, in.events, commitGrace)
	}
	return fmt.Sprintf("all committed after %v", r.allCommitted.Round(time.Millisecond))
}

func (r backlogResult) rate(events int) float64 {
	if r.capped || r.elapsed <= 0 {
		return 0
	}
	return float64(events) / r.elapsed.Seconds()
}

func runBacklog(ctx context.Context, o options, env *harness.Env, in *input, m string, r int) (backlogResult, error) {
	tag := fmt.Sprintf("%s-%d", m, r+1)
	res := backlogResult{mode: m, run: r + 1, load: harness.LoadAvg()}
	limit := o.timeout
	if m == "prism" {
		limit = o.prismCap
	}
	meter, err := env.StartMeter()
	if err != nil {
		return res, err
	}
	pl, err := startPipeline(ctx, o, env, m, tag, window.InputTopic)
	if err != nil {
		return res, err
	}
	defer pl.kill()
	w, err := watch(env.Brokers, pl.output)
	if err != nil {
		return res, err
	}
	defer w.stop()
	w.expect(in.want)
	if err := waitOutput(ctx, env, pl, w, tag, limit, &res); err != nil {
		return res, err
	}
	// Measure before stopping: the drain after SIGTERM is not part of it.
	if res.cpu, res.brokerCPU, err = meter.Read(pl.procs...); err != nil {
		return res, err
	}
	if res.committed, err = harness.Committed(ctx, env.Admin, pl.group, window.InputTopic); err != nil {
		return res, err
	}
	if !res.capped {
		if err := waitCommitted(ctx, env, pl, in, &res); err != nil {
			return res, err
		}
	}
	res.stopErr = pl.terminate(30 * time.Second)
	res.rssBytes = pl.peakRSS()
	if err := w.catchUp(ctx, pl.output, 10*time.Second); err != nil {
		return res, err
	}
	res.out = w.verdict()
	if res.capped && m != "prism" {
		return res, fmt.Errorf("timed out after %v with %d of %d results; last log lines:\n%s",
			limit, res.out.present, res.out.expected, pl.logTail(20))
	}
	env.Logf("%s: %.0f events/s, %s, output: %s", tag, res.rate(in.events), res.commits(in), res.out.problems())
	return res, nil
}

// waitOutput waits until the watcher has seen every expected result, or
// limit has passed since the pipeline's start (res.capped), noting in res
// the time of the first result and of the end.
func waitOutput(ctx context.Context, env *harness.Env, pl *pipeline, w *watcher, tag string, limit time.Duration, res *backlogResult) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	lastLog := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if err := pl.exited(); err != nil {
			return fmt.Errorf("before its output was complete: %w", err)
		}
		res.elapsed = time.Since(pl.start)
		if res.first == 0 && w.read() > 0 {
			res.first = res.elapsed
		}
		if w.complete() {
			return nil
		}
		if res.elapsed >= limit {
			res.capped = true
			return nil
		}
		if time.Since(lastLog) >= 10*time.Second {
			v := w.verdict()
			env.Logf("%s: %d/%d results after %v", tag, v.present, v.expected, res.elapsed.Round(time.Second))
			lastLog = time.Now()
		}
	}
}

// waitCommitted waits, up to commitGrace, until the pipeline's group has
// committed every event of in, in each partition, and notes when in res.
func waitCommitted(ctx context.Context, env *harness.Env, pl *pipeline, in *input, res *backlogResult) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(commitGrace)
	for {
		offsets, err := harness.CommittedOffsets(ctx, env.Admin, pl.group, window.InputTopic)
		if err != nil {
			return err
		}
		n, all := in.committed(offsets)
		res.committedEnd = n
		if all {
			res.allCommitted = time.Since(pl.start)
			return nil
		}
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if err := pl.exited(); err != nil {
			return fmt.Errorf("before the group committed the input: %w", err)
		}
	}
}
