package beamjob

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/metricsx"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/grpcx"
	"google.golang.org/grpc"
)

// Server is a connection to a job server, for the jobs command.
type Server struct {
	Client jobpb.JobServiceClient
	conn   *grpc.ClientConn
}

// Dial connects to the job server at endpoint (host:port).
func Dial(ctx context.Context, endpoint string) (*Server, error) {
	cc, err := grpcx.Dial(ctx, endpoint, dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("beamjob: connecting to the job server at %s: %w", endpoint, err)
	}
	return &Server{Client: jobpb.NewJobServiceClient(cc), conn: cc}, nil
}

// Close closes the connection (of a Server Dial made).
func (s *Server) Close() {
	if s.conn != nil {
		s.conn.Close()
	}
}

// Jobs lists the server's jobs, by id.
func (s *Server) Jobs(ctx context.Context) ([]*jobpb.JobInfo, error) {
	resp, err := s.Client.GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		return nil, fmt.Errorf("beamjob: listing jobs: %w", err)
	}
	jobs := resp.GetJobInfo()
	slices.SortFunc(jobs, func(a, b *jobpb.JobInfo) int { return strings.Compare(a.GetJobId(), b.GetJobId()) })
	return jobs, nil
}

// State is job id's state.
func (s *Server) State(ctx context.Context, id string) (jobpb.JobState_Enum, error) {
	resp, err := s.Client.GetState(ctx, &jobpb.GetJobStateRequest{JobId: id})
	if err != nil {
		return jobpb.JobState_UNSPECIFIED, fmt.Errorf("beamjob: the state of job %s: %w", id, err)
	}
	return resp.GetState(), nil
}

// Counter is one user counter of a job, by namespace and name, summed
// over the job's transforms (a DoFn fused into several stages keeps one
// in each): its committed value where the runner commits metrics, else
// the attempted one.
type Counter struct {
	Namespace, Name string
	Value           int64
}

// Counters is job id's user counters, by namespace and name.
func (s *Server) Counters(ctx context.Context, id string) ([]Counter, error) {
	p, err := s.Client.GetPipeline(ctx, &jobpb.GetJobPipelineRequest{JobId: id})
	if err != nil {
		return nil, fmt.Errorf("beamjob: the pipeline of job %s: %w", id, err)
	}
	m, err := s.Client.GetJobMetrics(ctx, &jobpb.GetJobMetricsRequest{JobId: id})
	if err != nil {
		return nil, fmt.Errorf("beamjob: the metrics of job %s: %w", id, err)
	}
	res := metricsx.FromMonitoringInfos(p.GetPipeline(), m.GetMetrics().GetAttempted(), m.GetMetrics().GetCommitted())
	return counters(res), nil
}

func counters(res *metrics.Results) []Counter {
	sums := map[[2]string]int64{}
	for _, c := range res.AllMetrics().Counters() {
		sums[[2]string{c.Namespace(), c.Name()}] += c.Result()
	}
	out := make([]Counter, 0, len(sums))
	for k, v := range sums {
		out = append(out, Counter{Namespace: k[0], Name: k[1], Value: v})
	}
	slices.SortFunc(out, func(a, b Counter) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	return out
}

// Cancel asks the server to cancel job id and waits, up to CancelTimeout
// or ctx, for its final state.
func (s *Server) Cancel(ctx context.Context, id string) (jobpb.JobState_Enum, error) {
	if _, err := s.Client.Cancel(ctx, &jobpb.CancelJobRequest{JobId: id}); err != nil {
		return jobpb.JobState_UNSPECIFIED, fmt.Errorf("beamjob: cancelling job %s: %w", id, err)
	}
	ctx, cancel := context.WithTimeout(ctx, CancelTimeout)
	defer cancel()
	for {
		st, err := s.State(ctx, id)
		if err != nil || Terminal(st) {
			return st, err
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("beamjob: job %s was asked to cancel and is %s: %w", id, st, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
