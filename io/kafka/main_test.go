package kafka_test

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/io/kafka"
)

// jobService is the in-process prism job server every test pipeline runs
// on. Tests need it to cancel their unbounded pipelines: cancelling the
// context given to prism.Execute only stops waiting for the job, which then
// keeps running inside the server.
var jobService jobpb.JobServiceClient

func TestMain(m *testing.M) {
	flag.Parse()
	// All registration happens in init functions, so Init can run now.
	beam.Init()
	cli, endpoint, err := startJobServer()
	if err != nil {
		fmt.Fprintln(os.Stderr, "prism job server:", err)
		os.Exit(1)
	}
	jobService = cli
	*jobopts.Endpoint = endpoint
	*jobopts.EnvironmentType = "LOOPBACK"
	code := m.Run()
	cancelJobs(context.Background())
	os.Exit(code)
}

func startJobServer() (jobpb.JobServiceClient, string, error) {
	// prism.CreateJobServer wants a port and does not say which it got,
	// so pick a free one first.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli, err := prism.CreateJobServer(ctx, prism.Options{Port: port})
	return cli, fmt.Sprintf("localhost:%d", port), err
}

// cancelJobs cancels every job of the server not yet finished.
func cancelJobs(ctx context.Context) {
	resp, err := jobService.GetJobs(ctx, &jobpb.GetJobsRequest{})
	if err != nil {
		return
	}
	for _, j := range resp.GetJobInfo() {
		switch j.GetState() {
		case jobpb.JobState_DONE, jobpb.JobState_FAILED, jobpb.JobState_CANCELLED, jobpb.JobState_DRAINED, jobpb.JobState_UPDATED:
			continue
		}
		jobService.Cancel(ctx, &jobpb.CancelJobRequest{JobId: j.GetJobId()})
	}
}

// job is a pipeline running on prism in the background.
type job struct {
	done   chan error
	err    error
	ended  bool
	cancel context.CancelFunc
}

// start runs p on prism until it ends or the test ends. Tests run one at a
// time, so the only unfinished job on the server is this one.
func start(t *testing.T, p *beam.Pipeline) *job {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{done: make(chan error, 1), cancel: cancel}
	go func() {
		_, err := prism.Execute(ctx, p)
		j.done <- err
	}()
	t.Cleanup(func() { j.stop(t) })
	return j
}

// stop cancels the job and waits for prism.Execute to return; it returns
// what Execute returned.
func (j *job) stop(t *testing.T) error {
	t.Helper()
	if j.ended {
		return j.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cancelJobs(ctx)
	return j.wait(t, 30*time.Second)
}

// endedEarly says whether the job ended by itself.
func (j *job) endedEarly() bool {
	if j.ended {
		return true
	}
	select {
	case j.err = <-j.done:
		j.ended = true
		return true
	default:
		return false
	}
}

// wait waits for the job to end by itself.
func (j *job) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	if j.ended {
		return j.err
	}
	select {
	case j.err = <-j.done:
	case <-time.After(timeout):
		j.cancel()
		j.err = <-j.done
		t.Errorf("pipeline did not end within %v", timeout)
	}
	j.ended = true
	j.cancel()
	return j.err
}

// cluster starts an in-process broker with the given topics, closed when
// the test ends.
func cluster(t *testing.T, partitions int32, topics ...string) kafka.ClientConfig {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return kafka.ClientConfig{Brokers: c.ListenAddrs()}
}

// closedAddr is an address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func client(t *testing.T, cfg kafka.ClientConfig, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base, err := cfg.Options()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produce writes records, each to the partition it names.
func produce(t *testing.T, cfg kafka.ClientConfig, rs ...*kgo.Record) {
	t.Helper()
	cl := client(t, cfg, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// consume reads topic from the start until it has want records or timeout
// passes, then keeps reading for settle to catch extra records. It gives up
// early if j ends.
func consume(t *testing.T, j *job, cfg kafka.ClientConfig, topic string, want int, timeout, settle time.Duration) []*kgo.Record {
	t.Helper()
	cl := client(t, cfg, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []*kgo.Record
	deadline := time.Now().Add(timeout)
	for len(got) < want && time.Now().Before(deadline) {
		if j != nil && j.endedEarly() {
			t.Fatalf("pipeline ended: %v", j.err)
		}
		got = append(got, poll(cl, min(time.Until(deadline), 200*time.Millisecond))...)
	}
	if len(got) < want {
		t.Fatalf("%s: got %d records within %v, want %d", topic, len(got), timeout, want)
	}
	if settle > 0 {
		end := time.Now().Add(settle)
		for time.Now().Before(end) {
			got = append(got, poll(cl, time.Until(end))...)
		}
	}
	return got
}

func poll(cl *kgo.Client, d time.Duration) []*kgo.Record {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return cl.PollFetches(ctx).Records()
}

// waitCommitted waits until the group's committed offsets equal want,
// partition by partition.
func waitCommitted(t *testing.T, cfg kafka.ClientConfig, group string, want map[int32]int64, timeout time.Duration) {
	t.Helper()
	adm := kadm.NewClient(client(t, cfg))
	deadline := time.Now().Add(timeout)
	var got map[int32]int64
	for time.Now().Before(deadline) {
		got = committed(t, adm, group)
		if mapsEqual(got, want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s committed %v within %v, want %v", group, got, timeout, want)
}

func committed(t *testing.T, adm *kadm.Client, group string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resps, err := adm.FetchOffsets(ctx, group)
	got := map[int32]int64{}
	if err != nil {
		return got
	}
	resps.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			got[o.Partition] = o.At
		}
	})
	return got
}

func endOffsets(t *testing.T, cfg kafka.ClientConfig, topic string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(client(t, cfg)).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { got[o.Partition] = o.Offset })
	return got
}

func mapsEqual(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(rs []*kgo.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Key))
	}
	slices.Sort(out)
	return out
}

func errContains(err error, subs ...string) bool {
	if err == nil {
		return false
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			return false
		}
	}
	return true
}
