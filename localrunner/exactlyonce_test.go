package localrunner_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/internal/childtest"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

// committedReader reads "out" with isolation.level=read_committed, as a
// consumer of an exactly-once pipeline must.
type committedReader struct {
	cl     *kgo.Client
	values map[string]int // by input value
	plain  int            // records not written in a transaction
}

func newCommittedReader(t *testing.T, brokers []string) *committedReader {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("out"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &committedReader{cl: cl, values: map[string]int{}}
}

// poll reads what arrives within 100ms.
func (o *committedReader) poll() {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	o.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
		if !r.Attrs.IsTransactional() {
			o.plain++
		}
		_, v, _ := strings.Cut(string(r.Value), "=")
		o.values[v]++
	})
}

// check fails t unless each of the values prefix0..prefix(n-1) was read
// exactly once, in a transaction.
func (o *committedReader) check(t *testing.T, prefix string, n int) (dups int) {
	t.Helper()
	for i := range n {
		switch c := o.values[prefix+strconv.Itoa(i)]; {
		case c == 0:
			t.Errorf("%s%d missing", prefix, i)
		case c > 1:
			dups += c - 1
		}
	}
	if dups > 0 {
		t.Errorf("%d duplicates read with read_committed under exactly-once", dups)
	}
	if o.plain > 0 {
		t.Errorf("%d records written outside a transaction", o.plain)
	}
	return dups
}

// TestExactlyOnceCleanRun moves records through a pipeline with
// exactly-once delivery: a read_committed reader sees each exactly once,
// every one written in a transaction, and the group's offsets (committed
// in the transactions) reach the end of the input.
func TestExactlyOnceCleanRun(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	const n = 1000
	produce(t, cl, "v", n)
	rc := readConfig(c, "eos1")
	rc.ExactlyOnce = true
	p, s := beam.NewPipelineWithRoot()
	recs := kafka.Read(s, rc)
	kafka.Write(s, kafka.WriteConfig{Client: rc.Client, Topic: "out", Transactional: true}, beam.ParDo(s, &fmtFn{Topic: "out"}, recs))
	stop := runUntil(t, p, localrunner.WithMaxBundleSize(50), localrunner.WithKafkaCommit(100*time.Millisecond, 200))
	out := newCommittedReader(t, c.ListenAddrs())
	end := ends(t, adm, "in")
	waitFor(t, "every record committed", time.Minute, func() bool {
		out.poll()
		cm := commits(context.Background(), adm, "eos1")
		return len(out.values) >= n && cm[0] == end[0] && cm[1] == end[1]
	})
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	for range 5 {
		out.poll() // anything written twice would come now
	}
	out.check(t, "v", n)
}

// TestExactlyOnceRebalanceTwoProcesses runs two processes in one group
// with exactly-once delivery, the second joining while records move: the
// rebalance aborts the first one's open transaction, and still a
// read_committed reader sees every record exactly once.
func TestExactlyOnceRebalanceTwoProcesses(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	spec, _ := json.Marshal(kafkaChildSpec{Brokers: c.ListenAddrs(), Group: "eos2", Delay: 200 * time.Microsecond, ExactlyOnce: true})
	out := newCommittedReader(t, c.ListenAddrs())
	a := childtest.Start(t, string(spec))
	produce(t, cl, "a", 2000)
	waitFor(t, "the first process's output", time.Minute, func() bool { out.poll(); return len(out.values) > 0 })
	produce(t, cl, "b", 4000) // records move when the second joins
	b := childtest.Start(t, string(spec))
	waitFor(t, "the second process to get a partition", time.Minute, func() bool {
		return strings.Contains(b.Stderr(), "partitions=map[in:[")
	})
	end := ends(t, adm, "in")
	waitFor(t, "every record and the commits", 2*time.Minute, func() bool {
		out.poll()
		cm := commits(context.Background(), adm, "eos2")
		return cm[0] == end[0] && cm[1] == end[1]
	})
	for range 5 {
		out.poll()
	}
	out.check(t, "a", 2000)
	out.check(t, "b", 4000)
	for name, ch := range map[string]*childtest.Child{"first": a, "second": b} {
		if ch.Exited() {
			t.Errorf("%s process exited: %s", name, ch.Stderr())
		}
	}
	if !strings.Contains(a.Stderr(), "kafka partitions revoked") {
		t.Errorf("the first process never had a partition revoked:\n%s", a.Stderr())
	}
	t.Logf("6000 records exactly once; aborted transactions: first %d, second %d",
		strings.Count(a.Stderr(), "kafka transaction aborted"), strings.Count(b.Stderr(), "kafka transaction aborted"))
}

// TestExactlyOnceRefusesStatefulSteps: a step that keeps state needs its
// state in the transactions too, through the changelogs of durable
// state; without a state directory the run says so rather than
// delivering at least once under an exactly-once name.
func TestExactlyOnceRefusesStatefulSteps(t *testing.T) {
	c, _, _ := kafkaCluster(t)
	rc := readConfig(c, "eos3")
	rc.ExactlyOnce = true
	p, s := beam.NewPipelineWithRoot()
	recs := kafka.Read(s, rc)
	stats.Count(s, beam.ParDo(s, &posFn{}, recs))
	r, err := localrunner.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = r.Run(ctx, p)
	if err == nil || !strings.Contains(err.Error(), "exactly-once delivery needs durable state with changelogs for steps that keep state") {
		t.Fatalf("Run: %v, want the refusal of a stateful step", err)
	}
}
