package runner

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"

	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

// runBeam runs p on the Beam runner opts.BeamRunner until ctx ends. When
// the job's DoFns run in this process (prism in process, or the LOOPBACK
// environment) and its source reads with a consumer group, a stop drains
// first: the reads stop fetching, the bundles in flight finish and the
// offsets of everything read are committed (kafka.Drain), then the job is
// cancelled. Otherwise cancelling ctx ends the submission at once.
func runBeam(ctx context.Context, opts Options, group string, log *slog.Logger, p *beam.Pipeline) error {
	if group == "" || !loopback(opts.BeamRunner) {
		_, err := beam.Run(ctx, opts.BeamRunner, p)
		return err
	}
	jobCtx, cancelJob := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJob()
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
	_, err := beam.Run(jobCtx, opts.BeamRunner, p)
	if !stop() {
		// The drain ran (or runs): the job was cancelled by it, or ended
		// on its own meanwhile.
		end := <-drained
		end()
	}
	return err
}

// loopback reports whether a job on Beam runner name runs its DoFns in
// this process: prism started in process (no --endpoint), whose default
// environment is LOOPBACK, or any runner told --environment_type
// LOOPBACK. Called before beam.Run, which sets those flags for prism.
func loopback(name string) bool {
	env := strings.ToLower(*jobopts.EnvironmentType)
	if env != "" {
		return env == "loopback"
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
	default:
		return "stopping: the submitter exits; Beam Go's submitter does not cancel the job on the runner, which decides what it commits"
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
