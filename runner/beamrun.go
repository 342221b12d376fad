package runner

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"

	"github.com/streams-dev/streams/internal/beamjob"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
	"github.com/streams-dev/streams/observe"
)

// runBeam runs p on the Beam runner opts.BeamRunner until ctx ends. A
// job server named by --endpoint takes the job through the Job API
// (runJob). When the job's DoFns run in this process (prism in process,
// or the LOOPBACK environment) and its source reads with a consumer
// group, a stop drains first: the reads stop fetching, the bundles in
// flight finish and the offsets of everything read are committed
// (kafka.Drain), then the job is cancelled.
func runBeam(ctx context.Context, opts Options, group string, log *slog.Logger, p *beam.Pipeline) error {
	jobCtx, done := ctx, func() {}
	if group != "" && loopback(opts.BeamRunner) {
		jobCtx, done = drainFirst(ctx, group, log)
	}
	defer done()
	if viaJobAPI(opts.BeamRunner) {
		return runJob(jobCtx, opts, log, p)
	}
	_, err := beam.Run(jobCtx, opts.BeamRunner, p)
	return err
}

// drainFirst returns the context of a job whose reads run in this
// process: it ends once ctx has ended and the reads of group have been
// drained (kafka.Drain), for up to the drain timeout. done ends the
// drain's hold on the group's reads; the caller calls it once the job
// is over.
func drainFirst(ctx context.Context, group string, log *slog.Logger) (jobCtx context.Context, done func()) {
	jobCtx, cancelJob := context.WithCancel(context.WithoutCancel(ctx))
	drained := make(chan func(), 1) // the drain's end, once it ran
	stop := context.AfterFunc(ctx, func() {
		dctx, cancel := context.WithTimeout(jobCtx, localrunner.DefaultDrainTimeout)
		defer cancel()
		r, end, err := kafka.Drain(dctx, group)
		if err != nil {
			log.Warn("stopping: not every offset read was committed before the drain timeout; a restart reads those records again", "error", err)
		} else {
			log.Info("stopping: every record read is processed and its offset committed", "group", group, "partitions", len(r), "offsets", r.String())
		}
		drained <- end
		cancelJob()
	})
	return jobCtx, func() {
		if !stop() {
			// The drain ran (or runs): it cancelled the job, or the job
			// ended on its own meanwhile.
			end := <-drained
			end()
		}
		cancelJob()
	}
}

// runJob submits p to the job server at --endpoint through the Job API
// (package beamjob), logs the job's id, states and messages, and, when
// ctx ends, cancels the job and waits for its final state. With
// opts.Detach it returns once the job is submitted.
func runJob(ctx context.Context, opts Options, log *slog.Logger, p *beam.Pipeline) error {
	job, err := beamjob.Submit(ctx, p)
	if err != nil {
		return err
	}
	endpoint := *jobopts.Endpoint
	log.Info("Beam job submitted", "job", job.ID, "endpoint", endpoint, "runner", opts.BeamRunner)
	if opts.Detach {
		job.Close()
		log.Info("detached: the job runs on without this process", "job", job.ID,
			"stop_with", fmt.Sprintf("%s jobs cancel --endpoint %s %s", programName(), endpoint, job.ID))
		return nil
	}
	defer job.Close()
	if pl := observe.Lookup(opts.PipelineID); pl != nil && !loopback(opts.BeamRunner) {
		// The steps run elsewhere: their counts come back through the
		// Job API. (LOOPBACK workers count into this process already.)
		cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		defer stop()
		go followCounters(cctx, &beamjob.Server{Client: job.Client}, job.ID, pl, log)
	}
	st, err := beamjob.Follow(ctx, job, log)
	if ctx.Err() != nil && err == nil {
		log.Info("the Beam job was cancelled", "job", job.ID, "state", st.String())
	}
	return err
}

// viaJobAPI reports whether Beam runner name takes the job through the
// Job API at --endpoint: the portable runners, and prism given a job
// server. (Prism without one starts its own in this process: Beam's
// runner serves it.)
func viaJobAPI(name string) bool {
	switch name {
	case "universal", "portable", "PortableRunner", "flink", "FlinkRunner", "spark", "SparkRunner":
		return true
	case "prism", "PrismRunner":
		return *jobopts.Endpoint != ""
	}
	return false
}

// loopback reports whether a job on Beam runner name runs its DoFns in
// this process: prism started in process (no --endpoint), whose default
// environment is LOOPBACK, or any runner told --environment_type
// LOOPBACK. Called before beam.Run, which sets those flags for prism.
func loopback(name string) bool {
	if *jobopts.EnvironmentType != "" {
		return jobopts.IsLoopback()
	}
	return (name == "prism" || name == "PrismRunner") && *jobopts.Endpoint == ""
}

// stopMessage is what the log says when a run is told to stop.
func stopMessage(opts Options, group string) string {
	switch {
	case opts.Adapter == AdapterLocal:
		return "stopping: no new records are read; what was read is processed and committed"
	case group != "" && loopback(opts.BeamRunner):
		return "stopping: no new records are read; draining what was read, then cancelling the job"
	case viaJobAPI(opts.BeamRunner):
		return "stopping: cancelling the Beam job through the Job API; the runner decides what it committed"
	default:
		return "stopping: the submitter exits; the job on the runner is not cancelled by it (Beam Go's runner for " + opts.BeamRunner + " cannot cancel: use the runner's own tools)"
	}
}

// remoteSafe refuses a source without bootstrap_servers on a Beam runner
// whose workers run elsewhere: the development broker the runner would
// start in this process is out of their reach (and dies with it). The
// fallback is for the bundled runner and workers in this process.
func remoteSafe(opts Options, dep *deployment) error {
	if opts.Adapter == AdapterLocal || !dep.needsDevBroker || loopback(opts.BeamRunner) {
		return nil
	}
	return fmt.Errorf("source step %s: no bootstrap_servers: with --runner=%s the workers run outside this process and cannot reach the development broker it would start; name a Kafka cluster they reach", dep.sourceStep, opts.BeamRunner)
}

// detachable refuses --detach where the job would not outlive this
// process: on the bundled runner, on a runner that takes no job through
// the Job API, or with the workers in this process (LOOPBACK).
func detachable(opts Options) error {
	switch {
	case !opts.Detach:
		return nil
	case opts.Adapter == AdapterLocal:
		return fmt.Errorf("--detach: the bundled runner (--adapter local) runs in this process; use --adapter beam with a job server")
	case !viaJobAPI(opts.BeamRunner):
		return fmt.Errorf("--detach: --runner=%s takes no job through the Job API; give a job server (--runner=universal --endpoint=HOST:PORT)", opts.BeamRunner)
	case loopback(opts.BeamRunner):
		return fmt.Errorf("--detach: with --environment_type=LOOPBACK the job's workers are this process, and would stop with it")
	}
	return nil
}
