package beamjob

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
)

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	os.Exit(m.Run())
}

// jobServer starts a prism job server in this process on a free port and
// points Beam's --endpoint at it, with LOOPBACK workers.
func jobServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := prism.CreateJobServer(ctx, prism.Options{Port: port}); err != nil {
		t.Fatal(err)
	}
	endpoint := fmt.Sprintf("localhost:%d", port)
	for name, v := range map[string]string{"endpoint": endpoint, "environment_type": "LOOPBACK"} {
		if err := flag.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	return endpoint
}

var evens = beam.NewCounter("test", "evens")

func countEvens(ctx context.Context, x int) int {
	if x%2 == 0 {
		evens.Inc(ctx, 1)
	}
	return x
}

func init() { beam.RegisterFunction(countEvens) }

// A bounded job submitted through the Job API: its id and states are in
// the log, Follow returns DONE, the server lists it, and its user counter
// is read back through the Job API.
func TestSubmitFollowAndReadBack(t *testing.T) {
	endpoint := jobServer(t)
	p, s := beam.NewPipelineWithRoot()
	stats.Count(s, beam.ParDo(s, countEvens, beam.Create(s, 1, 2, 3, 4, 5, 6)))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	job, err := Submit(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	var logs bytes.Buffer
	st, err := Follow(ctx, job, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil || st != jobpb.JobState_DONE {
		t.Fatalf("Follow: %v, %v; want DONE\n%s", st, err, logs.String())
	}
	for _, want := range []string{"job=" + job.ID, "state=RUNNING", "state=DONE"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	srv, err := Dial(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	jobs, err := srv.Jobs(ctx)
	if err != nil || len(jobs) == 0 || jobs[len(jobs)-1].GetJobId() == "" {
		t.Fatalf("Jobs: %v, %v", jobs, err)
	}
	listed := false
	for _, j := range jobs {
		listed = listed || j.GetJobId() == job.ID && j.GetState() == jobpb.JobState_DONE
	}
	if !listed {
		t.Errorf("job %s not listed as DONE: %v", job.ID, jobs)
	}
	cs, err := srv.Counters(ctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cs {
		found = found || c.Namespace == "test" && c.Name == "evens" && c.Value == 3
	}
	if !found {
		t.Errorf("counters %+v, want test/evens = 3", cs)
	}
}
