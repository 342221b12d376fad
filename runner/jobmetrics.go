package runner

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/internal/beamjob"
	"github.com/streams-dev/streams/observe"
)

// jobCountersEvery is how often the submitter of a remote job reads the
// job's counters through the Job API.
const jobCountersEvery = 2 * time.Second

// stepTotals are a step's counts as a job's Beam counters last said.
type stepTotals struct{ in, out, errors, dlq int64 }

// followCounters feeds the steps' Beam counters of job id (package
// beamtranslate keeps them: <step>.in, .out, .errors, .dlq), read through
// the Job API every jobCountersEvery until ctx ends, into the pipeline's
// metrics, so that the submitter's /metrics and live page show the
// steps of a job running elsewhere as the bundled runner's show its
// own. Counts only move forward: a runner's attempted figures may drop
// back when a bundle is retried.
func followCounters(ctx context.Context, srv *beamjob.Server, id string, pl *observe.Pipeline, log *slog.Logger) {
	last := map[string]stepTotals{}
	failed := false
	tick := time.NewTicker(jobCountersEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cs, err := srv.Counters(ctx, id)
		if err != nil {
			if !failed && ctx.Err() == nil {
				log.Warn("reading the Beam job's counters", "job", id, "error", err)
			}
			failed = true
			continue
		}
		failed = false
		for step, now := range stepCounts(cs) {
			addTotals(pl, step, last[step], now)
			last[step] = maxTotals(last[step], now)
		}
	}
}

// stepCounts gathers a job's step counters per step.
func stepCounts(cs []beamjob.Counter) map[string]stepTotals {
	out := map[string]stepTotals{}
	for _, c := range cs {
		if c.Namespace != beamtranslate.MetricNamespace {
			continue
		}
		i := strings.LastIndexByte(c.Name, '.')
		if i <= 0 {
			continue
		}
		step, kind := c.Name[:i], c.Name[i+1:]
		t := out[step]
		switch kind {
		case "in":
			t.in = c.Value
		case "out":
			t.out = c.Value
		case "errors":
			t.errors = c.Value
		case "dlq":
			t.dlq = c.Value
		}
		out[step] = t
	}
	return out
}

// addTotals adds to step's metrics what now counts beyond was.
func addTotals(pl *observe.Pipeline, step string, was, now stepTotals) {
	d := func(a, b int64) uint64 { return uint64(max(b-a, 0)) }
	pl.Step(step).Add(d(was.in, now.in), d(was.out, now.out), d(was.errors, now.errors))
	if n := d(was.dlq, now.dlq); n > 0 {
		pl.DeadLettered(step, int(n))
	}
}

func maxTotals(a, b stepTotals) stepTotals {
	return stepTotals{max(a.in, b.in), max(a.out, b.out), max(a.errors, b.errors), max(a.dlq, b.dlq)}
}
