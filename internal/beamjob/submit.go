// Package beamjob submits a pipeline to a Beam job server through the Job
// API and follows the job, as Beam Go's universal runner does, but with
// what an operator needs of a streaming job that the universal runner
// lacks: the job's id, state changes and messages in the program's own
// log at their level, cancellation of the job when the submitter is
// stopped (the universal runner returns and leaves the job running), a
// detached submission that returns the job's id, and the Job API calls
// behind a `jobs` command (list, show with metrics, cancel).
//
// It serves every runner that takes jobs through the Job API: a prism or
// Flink or Spark job server named by --endpoint. Dataflow has its own API
// and stays with Beam's runner.
package beamjob

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/xlangx"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal/extworker"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal/runnerlib"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"
	"google.golang.org/grpc"
)

// dialTimeout bounds connecting to a job server.
const dialTimeout = time.Minute

// Job is a submitted job: its id and a client of its job server.
type Job struct {
	ID     string
	Client jobpb.JobServiceClient
	conn   *grpc.ClientConn
	stop   func() // the loopback worker pool, if any
}

// Close closes the connection to the job server and, for a job whose
// workers run in this process (LOOPBACK), their pool: the job can no
// longer run.
func (j *Job) Close() {
	if j.stop != nil {
		j.stop()
	}
	if j.conn != nil {
		j.conn.Close()
	}
}

// Submit submits p to the job server at Beam's --endpoint with Beam's
// job flags (--environment_type and the rest), as the universal runner
// does, and returns the running job. ctx bounds the submission; the job
// outlives it. With LOOPBACK the workers run in this process until Close.
func Submit(ctx context.Context, p *beam.Pipeline) (_ *Job, err error) {
	endpoint, err := jobopts.GetEndpoint()
	if err != nil {
		return nil, err
	}
	edges, _, err := p.Build()
	if err != nil {
		return nil, err
	}
	job := &Job{}
	defer func() {
		if err != nil {
			job.Close()
		}
	}()
	envCfg := jobopts.GetEnvironmentConfig
	if jobopts.IsLoopback() {
		// The workers must outlive ctx: they serve the job until Close.
		srv, err := extworker.StartLoopback(context.WithoutCancel(ctx), 0)
		if err != nil {
			return nil, err
		}
		job.stop = func() { srv.Stop(context.Background()) }
		envCfg = srv.EnvironmentConfig
	}
	xlangx.ResolveArtifacts(ctx, edges, nil)
	env, err := graphx.CreateEnvironment(ctx, jobopts.GetEnvironmentUrn(ctx), envCfg)
	if err != nil {
		return nil, fmt.Errorf("beamjob: the pipeline's environment: %w", err)
	}
	pipeline, err := graphx.Marshal(edges, &graphx.Options{Environment: env, PipelineResourceHints: jobopts.GetPipelineResourceHints()})
	if err != nil {
		return nil, fmt.Errorf("beamjob: the pipeline's model: %w", err)
	}
	opt := &runnerlib.JobOptions{
		Name:         jobopts.GetJobName(),
		Experiments:  jobopts.GetExperiments(),
		Worker:       *jobopts.WorkerBinary,
		RetainDocker: *jobopts.RetainDockerContainers,
		Parallelism:  *jobopts.Parallelism,
		Loopback:     jobopts.IsLoopback(),
	}
	bin, cleanup, err := workerBinary(ctx, opt)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := runnerlib.UpdateGoEnvironmentWorker(bin, pipeline); err != nil {
		return nil, err
	}
	if job.conn, err = grpcx.Dial(ctx, endpoint, dialTimeout); err != nil {
		return nil, fmt.Errorf("beamjob: connecting to the job server at %s: %w", endpoint, err)
	}
	job.Client = jobpb.NewJobServiceClient(job.conn)
	prepID, artifacts, token, err := runnerlib.Prepare(ctx, job.Client, pipeline, opt)
	if err != nil {
		return nil, err
	}
	retrieval, err := runnerlib.Stage(ctx, prepID, artifacts, bin, token)
	if err != nil {
		return nil, err
	}
	if job.ID, err = runnerlib.Submit(ctx, job.Client, prepID, retrieval); err != nil {
		return nil, err
	}
	return job, nil
}

// workerBinary is the binary staged for the job's workers: --worker_binary,
// else this program when it can serve as one, else one built for them;
// with LOOPBACK an empty stand-in (the workers are this process).
func workerBinary(ctx context.Context, opt *runnerlib.JobOptions) (string, func(), error) {
	none := func() {}
	switch {
	case opt.Loopback:
		f, err := os.CreateTemp("", "beamloopbackworker-*")
		if err != nil {
			return "", none, err
		}
		f.Close()
		return f.Name(), func() { os.Remove(f.Name()) }, nil
	case opt.Worker != "":
		return opt.Worker, none, nil
	}
	if self, ok := runnerlib.IsWorkerCompatibleBinary(); ok {
		return self, none, nil
	}
	bin, err := runnerlib.BuildTempWorkerBinary(ctx, runnerlib.CompileOpts{})
	if err != nil {
		return "", none, err
	}
	return bin, func() { os.Remove(bin) }, nil
}
