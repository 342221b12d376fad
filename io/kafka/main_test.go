package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/io/kafka"
)

// Tests that run pipelines run in parallel: each has its own broker and
// its own child process.
//
// Every test pipeline runs on prism in a child process: the test binary
// itself, started with the pipeline to run in envPipeline (see runChild).
// A streaming pipeline never ends by itself, and stopping it inside the
// test process is not clean: cancelling prism.Execute's context only stops
// waiting for the job, cancelling the job through the job service stops
// the in-process SDK harness while bundles are in flight, and the harness
// of Beam v2.77 has data races on that path (control response channel
// closed while a bundle sends on it; two goroutines in Recv on one data
// stream), which -race then blames on whichever test is running. So the
// parent kills the child (kill -9, as a crash would), and reads the race
// reports the child printed: one that involves this package fails the
// test; one entirely inside Beam is only logged.
const envPipeline = "STREAMS_KAFKA_TEST_PIPELINE"

func TestMain(m *testing.M) {
	flag.Parse()
	// All registration happens in init functions, so Init can run now.
	beam.Init()
	if spec := os.Getenv(envPipeline); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

// pipelineSpec says which test pipeline a child runs.
type pipelineSpec struct {
	// Copy reads Read and writes every record to Out.
	Copy *kafka.ReadConfig
	Out  string
	// Windows reads Read and writes the count of each one-second
	// event-time window to Out.
	Windows *kafka.ReadConfig
	// Write writes Records with WriteConfig.
	Write   *kafka.WriteConfig
	Records []kafka.Record
}

func (spec pipelineSpec) pipeline() *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	switch {
	case spec.Copy != nil:
		recs := kafka.Read(s, *spec.Copy)
		kafka.Write(s, kafka.WriteConfig{Client: spec.Copy.Client, Topic: spec.Out}, beam.ParDo(s, toDefaultTopic, recs))
	case spec.Windows != nil:
		recs := kafka.Read(s, *spec.Windows)
		counts := stats.SumPerKey(s, beam.ParDo(s, countOne, beam.WindowInto(s, window.NewFixedWindows(time.Second), recs)))
		kafka.Write(s, kafka.WriteConfig{Client: spec.Windows.Client, Topic: spec.Out}, beam.ParDo(s, windowCount, counts))
	case spec.Write != nil:
		kafka.Write(s, *spec.Write, beam.CreateList(s, spec.Records))
	}
	return p
}

// resultPrefix starts the line where a child reports how its pipeline
// ended: "ok" or the error.
const resultPrefix = "PIPELINE RESULT: "

// runChild runs the pipeline of spec until it ends (or the parent kills
// the process), and prints how it ended.
func runChild(spec string) int {
	// The parent holds our stdin open: when it goes, whatever the reason,
	// so do we.
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	var ps pipelineSpec
	if err := json.Unmarshal([]byte(spec), &ps); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, err := prism.Execute(context.Background(), ps.pipeline())
	res := "ok"
	if err != nil {
		res = strconv.Quote(err.Error())
	}
	fmt.Println(resultPrefix + res)
	return 0
}

// job is a test pipeline running in a child process.
type job struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    syncBuffer // stdout
	errs   syncBuffer // stderr
	exited chan struct{}
	ended  bool
}

// start runs spec in a child process, killed when the test ends at the
// latest.
func start(t *testing.T, spec pipelineSpec) *job {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	j := &job{exited: make(chan struct{})}
	j.cmd = exec.Command(os.Args[0], "-test.run=^$")
	j.cmd.Env = append(os.Environ(), envPipeline+"="+string(b))
	j.cmd.Stdout, j.cmd.Stderr = &j.out, &j.errs
	// Never written: the child exits when this pipe closes, so it cannot
	// outlive the test binary.
	if j.stdin, err = j.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := j.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		j.cmd.Wait()
		close(j.exited)
	}()
	t.Cleanup(func() { j.stop(t) })
	return j
}

// stop kills the child, if it still runs, and checks its race reports.
func (j *job) stop(t *testing.T) {
	t.Helper()
	if j.ended {
		return
	}
	j.ended = true
	j.cmd.Process.Kill()
	<-j.exited
	j.checkRaces(t)
	if t.Failed() {
		t.Logf("pipeline process output:\n%s%s", j.out.String(), j.errs.String())
	}
}

// endedEarly says whether the child ended by itself.
func (j *job) endedEarly() bool {
	select {
	case <-j.exited:
		return true
	default:
		return false
	}
}

// wait waits for the pipeline to end by itself and returns its error.
func (j *job) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-j.exited:
	case <-time.After(timeout):
		t.Fatalf("pipeline did not end within %v", timeout)
	}
	j.stop(t)
	return j.result(t)
}

// result is how the pipeline ended, as the child reported it.
func (j *job) result(t *testing.T) error {
	t.Helper()
	for line := range strings.Lines(j.out.String()) {
		if res, ok := strings.CutPrefix(strings.TrimSpace(line), resultPrefix); ok {
			if res == "ok" {
				return nil
			}
			msg, err := strconv.Unquote(res)
			if err != nil {
				msg = res
			}
			return errors.New(msg)
		}
	}
	t.Fatalf("pipeline process ended without a result:\n%s", j.errs.String())
	return nil
}

// checkRaces fails the test on each race report of the child that involves
// this package, and logs the others.
func (j *job) checkRaces(t *testing.T) {
	t.Helper()
	const marker = "WARNING: DATA RACE"
	reports := strings.Split(j.errs.String(), marker)[1:]
	for _, r := range reports {
		r, _, _ = strings.Cut(r, "==================")
		if strings.Contains(r, "streams-dev/streams/io/kafka") {
			t.Errorf("data race in the pipeline:\n%s%s", marker, r)
		} else {
			first, _, _ := strings.Cut(strings.TrimSpace(r), "\n")
			t.Logf("data race inside Beam, not in this package (%s ...)", first)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the child's writers and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
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
			j.stop(t)
			t.Fatalf("pipeline ended: %v", j.result(t))
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
