package localrunner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/internal/childtest"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

// posFn turns a record into "partition/offset=value", sleeping Delay per
// element (a slow downstream stage).
type posFn struct {
	Delay time.Duration
}

func (f *posFn) ProcessElement(r kafka.Record) string {
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	return fmt.Sprintf("%d/%d=%s", r.Partition, r.Offset, r.Value)
}

func init() {
	register.DoFn1x1[kafka.Record, string](&posFn{})
}

// kafkaCluster starts a kfake broker with topic "in" (and "out") of two
// partitions.
func kafkaCluster(t *testing.T) (*kfake.Cluster, *kgo.Client, *kadm.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in", "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, cl, kadm.NewClient(cl)
}

// produce writes n records to "in", alternating partitions, values
// prefix+i, timestamps one millisecond apart.
func produce(t *testing.T, cl *kgo.Client, prefix string, n int) {
	t.Helper()
	base := time.Now().Add(-time.Hour)
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: "in", Partition: int32(i % 2), Value: []byte(prefix + strconv.Itoa(i)), Timestamp: base.Add(time.Duration(i) * time.Millisecond)})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func readConfig(c *kfake.Cluster, group string) kafka.ReadConfig {
	return kafka.ReadConfig{
		Client:      kafka.ClientConfig{Brokers: c.ListenAddrs()},
		Topics:      []string{"in"},
		Group:       group,
		StartOffset: kafka.StartEarliest,
		IdleDelay:   50 * time.Millisecond,
	}
}

// commits returns the group's committed offsets of "in" by partition.
func commits(ctx context.Context, adm *kadm.Client, group string) map[int32]int64 {
	return topicCommits(ctx, adm, group, "in")
}

// topicCommits returns group's committed offsets of topic's partitions
// (none when they cannot be fetched).
func topicCommits(ctx context.Context, adm *kadm.Client, group, topic string) map[int32]int64 {
	out := map[int32]int64{}
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return out
	}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

func ends(t *testing.T, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	l, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	l.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// positions parses posFn outputs into the offsets seen per partition
// (counting repeats) and the values.
func positions(t *testing.T, vs []string) (map[int32]map[int64]int, []string) {
	t.Helper()
	pos := map[int32]map[int64]int{}
	var vals []string
	for _, v := range vs {
		po, val, _ := strings.Cut(v, "=")
		ps, os, _ := strings.Cut(po, "/")
		p, err1 := strconv.Atoi(ps)
		o, err2 := strconv.ParseInt(os, 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad output %q", v)
		}
		if pos[int32(p)] == nil {
			pos[int32(p)] = map[int64]int{}
		}
		pos[int32(p)][o]++
		vals = append(vals, val)
	}
	return pos, vals
}

// checkNotPast fails t if a commit names a position past a record not yet
// output: every offset below the commit must have been seen.
func checkNotPast(t *testing.T, when string, committed map[int32]int64, pos map[int32]map[int64]int) {
	t.Helper()
	for p, c := range committed {
		for o := int64(0); o < c; o++ {
			if pos[p][o] == 0 {
				t.Errorf("%s: partition %d committed at %d but offset %d was not output yet", when, p, c, o)
				return
			}
		}
	}
}

// kafkaPipeline reads "in" and collects posFn's outputs under key.
func kafkaPipeline(cfg kafka.ReadConfig, delay time.Duration, key string) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	recs := kafka.Read(s, cfg)
	collect(s, key, beam.ParDo(s, &posFn{Delay: delay}, recs))
	return p
}

// runUntil runs p on the local runner in the background; stop cancels it
// and returns Run's error.
func runUntil(t *testing.T, p *beam.Pipeline, opts ...localrunner.Option) (stop func() error) {
	t.Helper()
	r, err := localrunner.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, p)
		done <- err
	}()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return 30s after cancel")
			return nil
		}
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKafkaNativeCleanRun moves N records read -> write through the native
// source: each arrives exactly once and the group's commits reach the end
// of both partitions. The SDF never runs: the plan has a source stage.
func TestKafkaNativeCleanRun(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	const n = 1000
	produce(t, cl, "v", n)
	key := t.Name()
	var mu sync.Mutex
	sourced := 0
	hooks := localrunner.Hooks{BundleDone: func(e localrunner.BundleEvent) {
		if strings.HasPrefix(e.Bundle, "src") {
			mu.Lock()
			sourced += e.Outputs
			mu.Unlock()
		}
	}}
	stop := runUntil(t, kafkaPipeline(readConfig(c, "g1"), 0, key),
		localrunner.WithHooks(hooks), localrunner.WithMaxBundleSize(64), localrunner.WithKafkaCommit(50*time.Millisecond, 100))
	end := ends(t, adm, "in")
	waitFor(t, "all records and commits", time.Minute, func() bool {
		cm := commits(context.Background(), adm, "g1")
		return countRecords(key) >= n && cm[0] == end[0] && cm[1] == end[1]
	})
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	pos, vals := positions(t, values(takeRecords(key)))
	if len(vals) != n {
		t.Errorf("%d outputs, want %d", len(vals), n)
	}
	for p, offs := range pos {
		for o, k := range offs {
			if k != 1 {
				t.Errorf("partition %d offset %d output %d times", p, o, k)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if sourced != n {
		t.Errorf("native source handed on %d records, want %d (did the SDF run instead?)", sourced, n)
	}
}

// TestKafkaNativeSlowDownstreamNeverCommitsPastWork runs two partitions
// into a slow stage with parallel bundles (completing out of order) and a
// tight commit policy, and checks every commit observed over time against
// the outputs seen after it: no commit is past an unfinished record.
func TestKafkaNativeSlowDownstreamNeverCommitsPastWork(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	const n = 400
	produce(t, cl, "v", n)
	key := t.Name()
	stop := runUntil(t, kafkaPipeline(readConfig(c, "g2"), 2*time.Millisecond, key),
		localrunner.WithMaxBundleSize(7), localrunner.WithParallelism(4),
		localrunner.WithKafkaCommit(10*time.Millisecond, 5), localrunner.WithKafkaInflight(60, 1<<20))
	end := ends(t, adm, "in")
	observed := 0
	waitFor(t, "all records and commits", time.Minute, func() bool {
		cm := commits(context.Background(), adm, "g2")
		sinks.mu.Lock()
		seen := values(sinks.m[key])
		sinks.mu.Unlock()
		pos, _ := positions(t, seen)
		checkNotPast(t, fmt.Sprintf("after %d outputs", len(seen)), cm, pos)
		if cm[0] > 0 && cm[0] < end[0] || cm[1] > 0 && cm[1] < end[1] {
			observed++
		}
		return len(seen) >= n && cm[0] == end[0] && cm[1] == end[1]
	})
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if observed < 3 {
		t.Errorf("observed %d intermediate commits, want several (the test checks nothing otherwise)", observed)
	}
	if got := len(takeRecords(key)); got != n {
		t.Errorf("%d outputs, want %d", got, n)
	}
}

// TestKafkaNativeCancelDrainsAndCommits cancels a run with a backlog
// in flight: Run returns context.Canceled within the drain timeout, what
// was handed on is processed, and the final commit is exactly the
// contiguous output per partition (nothing past it, nothing finished left
// uncommitted).
func TestKafkaNativeCancelDrainsAndCommits(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	const n = 3000
	produce(t, cl, "v", n)
	key := t.Name()
	stop := runUntil(t, kafkaPipeline(readConfig(c, "g3"), time.Millisecond, key),
		localrunner.WithMaxBundleSize(50), localrunner.WithParallelism(2),
		localrunner.WithKafkaCommit(time.Hour, 1<<30), localrunner.WithKafkaInflight(200, 1<<20),
		localrunner.WithDrainTimeout(20*time.Second))
	waitFor(t, "some output", time.Minute, func() bool { return countRecords(key) > 200 })
	start := time.Now()
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	took := time.Since(start)
	pos, vals := positions(t, values(takeRecords(key)))
	if len(vals) >= n {
		t.Fatalf("all %d records processed before the cancel took effect; make the backlog larger", len(vals))
	}
	cm := commits(context.Background(), adm, "g3")
	checkNotPast(t, "after the drain", cm, pos)
	for p := range int32(2) {
		contiguous := int64(0)
		for pos[p][contiguous] > 0 {
			contiguous++
		}
		if cm[p] != contiguous {
			t.Errorf("partition %d: committed %d, want %d (the contiguous output)", p, cm[p], contiguous)
		}
	}
	t.Logf("drained and committed in %v: %d of %d records processed, commits %v", took, len(vals), n, cm)
}

// kafkaChildSpec is the pipeline a child process runs: read "in" with the
// group, write "partition/offset=value" records to "out", each prefixed
// with "Member@" when Member is set, taking Delay per record.
type kafkaChildSpec struct {
	Brokers []string
	Group   string
	Member  string
	Delay   time.Duration
	// ExactlyOnce reads and writes with exactly-once delivery.
	ExactlyOnce bool `json:",omitempty"`
}

// fmtFn formats a record for the output topic.
type fmtFn struct {
	Topic  string
	Member string
	Delay  time.Duration
}

func (f *fmtFn) ProcessElement(r kafka.Record) kafka.Record {
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	v := fmt.Appendf(nil, "%d/%d=%s", r.Partition, r.Offset, r.Value)
	if f.Member != "" {
		v = append([]byte(f.Member+"@"), v...)
	}
	return kafka.Record{Topic: f.Topic, Value: v}
}

func init() {
	register.DoFn1x1[kafka.Record, kafka.Record](&fmtFn{})
}

func runKafkaChild(raw string) int {
	var spec kafkaChildSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	p, s := beam.NewPipelineWithRoot()
	client := kafka.ClientConfig{Brokers: spec.Brokers}
	recs := kafka.Read(s, kafka.ReadConfig{Client: client, Topics: []string{"in"}, Group: spec.Group, StartOffset: kafka.StartEarliest, IdleDelay: 50 * time.Millisecond, ExactlyOnce: spec.ExactlyOnce})
	kafka.Write(s, kafka.WriteConfig{Client: client, Topic: "out", Transactional: spec.ExactlyOnce}, beam.ParDo(s, &fmtFn{Topic: "out", Member: spec.Member, Delay: spec.Delay}, recs))
	r, err := localrunner.New(
		localrunner.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))),
		localrunner.WithMaxBundleSize(20),
		localrunner.WithKafkaCommit(50*time.Millisecond, 50),
		localrunner.WithKafkaClientOpts(kgo.HeartbeatInterval(100*time.Millisecond), kgo.SessionTimeout(6*time.Second)),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := r.Run(ctx, p); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "pipeline failed:", err)
		return 1
	}
	return 0
}

// TestKafkaNativeRebalanceTwoProcesses runs two runner processes in one
// group: the first takes both partitions, the second joins mid-stream and
// Kafka moves a partition to it (cooperative rebalance). Every record
// arrives (duplicates allowed), both processes got partitions, and the
// commits reach the end.
func TestKafkaNativeRebalanceTwoProcesses(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	spec, _ := json.Marshal(kafkaChildSpec{Brokers: c.ListenAddrs(), Group: "g4"})
	out, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	seen := map[string]int{}
	poll := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		out.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			_, v, _ := strings.Cut(string(r.Value), "=")
			seen[v]++
		})
	}

	a := childtest.Start(t, string(spec))
	produce(t, cl, "a", 200)
	waitFor(t, "the first process's output", time.Minute, func() bool { poll(); return len(seen) >= 200 })
	b := childtest.Start(t, string(spec))
	waitFor(t, "the second process to get a partition", time.Minute, func() bool {
		return strings.Count(b.Stderr(), "kafka partitions assigned") > 0 && strings.Contains(b.Stderr(), "partitions=map[in:[")
	})
	produce(t, cl, "b", 400)
	end := ends(t, adm, "in")
	waitFor(t, "every record and the commits", time.Minute, func() bool {
		poll()
		cm := commits(context.Background(), adm, "g4")
		return len(seen) >= 600 && cm[0] == end[0] && cm[1] == end[1]
	})
	dups := 0
	for _, k := range seen {
		dups += k - 1
	}
	for i := range 200 {
		if seen["a"+strconv.Itoa(i)] == 0 {
			t.Errorf("a%d missing", i)
		}
	}
	for i := range 400 {
		if seen["b"+strconv.Itoa(i)] == 0 {
			t.Errorf("b%d missing", i)
		}
	}
	for name, ch := range map[string]*childtest.Child{"first": a, "second": b} {
		if ch.Exited() {
			t.Errorf("%s process exited: %s", name, ch.Stderr())
		}
	}
	if !strings.Contains(a.Stderr(), "kafka partitions revoked") {
		t.Errorf("the first process never had a partition revoked:\n%s", a.Stderr())
	}
	t.Logf("600 records, %d duplicates, commits %v", dups, commits(context.Background(), adm, "g4"))
}
