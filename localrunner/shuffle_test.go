package localrunner_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

// With the shuffle, a GroupByKey whose key is not the partitioning reads
// its input from <group>-<step>-shuffle: the source commits a record
// once it is written there (a window no longer holds the source's
// commits), and it is the shuffle's own group whose commits stay behind
// the records a window holds. The past windows fire once every writer's
// mark passed them; a cancel does not wait for the future window.
func TestShuffleWindowsHoldTheShuffleCommits(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	producePastAndFuture(t, cl)
	key := t.Name()
	var mu sync.Mutex
	dropped := 0
	hooks := localrunner.Hooks{BundleDone: func(e localrunner.BundleEvent) {
		mu.Lock()
		defer mu.Unlock()
		dropped += e.Dropped
	}}
	p := sumsPerPartition(c, key)
	opts := []localrunner.Option{localrunner.WithHooks(hooks), localrunner.WithMaxBundleSize(16),
		localrunner.WithKafkaCommit(20*time.Millisecond, 10), localrunner.WithKafkaInflight(30, 1<<20),
		localrunner.WithDrainTimeout(20 * time.Second)}
	if os.Getenv("STREAMS_DEBUG") != "" {
		opts = append(opts, localrunner.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	stop := runUntil(t, p, opts...)
	waitFor(t, "the past windows", time.Minute, func() bool { return countRecords(key) >= 2 })
	topic := shuffleTopic(t, adm, "gw")
	waitFor(t, "the source's commits", time.Minute, func() bool {
		cm := commits(context.Background(), adm, "gw")
		return cm[0] == 100 && cm[1] == 100
	})
	time.Sleep(300 * time.Millisecond) // a few commit intervals
	held := func(when string) {
		cm := topicCommits(context.Background(), adm, topic, topic)
		if len(cm) == 0 {
			t.Errorf("%s: the shuffle's group %s committed nothing", when, topic)
		}
		for p, at := range cm {
			if at > 0 && at >= endOffset(t, adm, topic, p) {
				t.Errorf("%s: shuffle partition %d committed at its end %d, while a window holds records", when, p, at)
			}
		}
	}
	held("running")
	start := time.Now()
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("cancel took %v: the drain waited for windows that cannot fire", took)
	}
	held("after the drain")
	mu.Lock()
	if dropped > 0 {
		t.Errorf("%d records dropped as late", dropped)
	}
	mu.Unlock()
	if got, want := values(takeRecords(key)), []string{"0=50", "1=50"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	tds, err := adm.ListTopics(context.Background(), topic)
	if err != nil || tds[topic].Err != nil || len(tds[topic].Partitions) != 2 {
		t.Errorf("shuffle topic %s: %v %v, want 2 partitions", topic, err, tds[topic])
	}
}

// endOffset is the offset after the last record of a partition.
func endOffset(t *testing.T, adm *kadm.Client, topic string, p int32) int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := ends.Lookup(topic, p)
	return o.Offset
}

// shuffleTopic returns the one shuffle topic of group.
func shuffleTopic(t *testing.T, adm *kadm.Client, group string) string {
	t.Helper()
	tds, err := adm.ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, name := range tds.Names() {
		if strings.HasPrefix(name, group+"-") && strings.HasSuffix(name, "-shuffle") {
			found = append(found, name)
		}
	}
	if len(found) != 1 {
		t.Fatalf("shuffle topics of %s: %v, want one (topics: %v)", group, found, tds.Names())
	}
	return found[0]
}

// recordMod5 keys a record whose value is an integer by that integer
// modulo 5: a key the partitioning does not follow.
func recordMod5(r kafka.Record) (string, int) {
	v, _ := strconv.Atoi(string(r.Value))
	return strconv.Itoa(v % 5), v
}

func init() {
	register.Function1x2(recordMod5)
}

// A stateful DoFn whose key does not follow the partitioning reads its
// input through a shuffle topic too: its state is kept per partition of
// that topic, and each key's running count reaches the key's whole count.
func TestShuffleFeedsAStatefulDoFn(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	var rs []*kgo.Record
	for i := range 200 {
		rs = append(rs, &kgo.Record{Topic: "in", Partition: int32(i % 2), Value: []byte(strconv.Itoa(i)), Timestamp: time.Now()})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	key := t.Name()
	p, s := beam.NewPipelineWithRoot()
	keyed := beam.ParDo(s, recordMod5, kafka.Read(s, readConfig(c, "gs")))
	collect(s, key, beam.ParDo(s, &runningCount{}, keyed))
	stop := runUntil(t, p, localrunner.WithStateDir(t.TempDir(), 50*time.Millisecond), localrunner.WithShufflePurge(50*time.Millisecond))
	waitFor(t, "every key's count of 40", time.Minute, func() bool {
		sinks.mu.Lock()
		defer sinks.mu.Unlock()
		return len(sinks.m[key]) >= 200
	})
	// The shuffle topic loses what its group committed, and nothing more.
	topic := shuffleTopic(t, adm, "gs")
	waitFor(t, "the shuffle topic purged", time.Minute, func() bool {
		starts, err := adm.ListStartOffsets(context.Background(), topic)
		if err != nil {
			t.Fatal(err)
		}
		cm := topicCommits(context.Background(), adm, topic, topic)
		purged := 0
		starts.Each(func(o kadm.ListedOffset) {
			if o.Offset > cm[o.Partition] {
				t.Fatalf("partition %d purged up to %d, past its committed offset %d", o.Partition, o.Offset, cm[o.Partition])
			}
			if o.Offset > 0 {
				purged++
			}
		})
		return purged == len(starts[topic]) && purged > 0
	})
	if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	last := map[string]int{}
	for _, v := range values(takeRecords(key)) {
		k, n, _ := strings.Cut(v, "#")
		c, _ := strconv.Atoi(n)
		last[k] = max(last[k], c)
	}
	for k := range 5 {
		if got := last[strconv.Itoa(k)]; got != 40 {
			t.Errorf("key %d counted %d, want 40", k, got)
		}
	}
}
