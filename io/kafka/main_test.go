package kafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/internal/childtest"
	"github.com/streams-dev/streams/io/kafka"
)

// Tests that run pipelines run in parallel: each has its own broker and
// its own child process. Every test pipeline runs on prism in a child copy
// of the test binary (package childtest says why): the parent kills it and
// fails the test on a data race in this module's code.
func TestMain(m *testing.M) {
	flag.Parse()
	// All registration happens in init functions, so Init can run now.
	beam.Init()
	if spec, ok := childtest.Spec(); ok {
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
type job struct{ *childtest.Child }

// start runs spec in a child process, killed when the test ends at the
// latest.
func start(t *testing.T, spec pipelineSpec) *job {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return &job{childtest.Start(t, string(b))}
}

// stop kills the child, if it still runs, and checks its race reports.
func (j *job) stop(t *testing.T) { t.Helper(); j.Stop(t) }

// endedEarly says whether the child ended by itself.
func (j *job) endedEarly() bool { return j.Exited() }

// wait waits for the pipeline to end by itself and returns its error.
func (j *job) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	if !j.Wait(timeout) {
		t.Fatalf("pipeline did not end within %v", timeout)
	}
	j.Stop(t)
	return j.result(t)
}

// result is how the pipeline ended, as the child reported it.
func (j *job) result(t *testing.T) error {
	t.Helper()
	for line := range strings.Lines(j.Stdout()) {
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
	t.Fatalf("pipeline process ended without a result:\n%s", j.Stderr())
	return nil
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
