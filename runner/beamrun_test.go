package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/devbroker"
	"github.com/streams-dev/streams/internal/childtest"
)

// drainChildPrefix starts a child spec that runs the seed pipeline on
// prism in process (--adapter beam) against the broker at the address
// after it, until SIGTERM.
const drainChildPrefix = "beam-drain:"

func runDrainChild(addr string) int {
	cfg, err := config.Parse([]byte(`pipeline:
  segments:
    - steps_config:
        myinput: {auto_offset_reset: earliest, consumer_group: drain}
`), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	err = Run(ctx, seedPipeline().MustBuild(), Options{
		Config: cfg, Adapter: AdapterBeam, DevBrokerAddr: addr,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

// TestBeamStopCommitsWhatWasRead is issue 20's first test: on prism in
// process, SIGTERM right after the last output of a large input stops
// reading, lets the bundles in flight finish and commits their offsets
// before the process exits, so the group's committed offsets are at the
// end of every partition. Before the drain, the commits trailed reading
// by a call of the reading DoFn per partition and shutdown dropped them:
// 135,234 to 674,564 of 1,000,000 were committed.
// STREAMS_DRAIN_RECORDS sets the input size (default 1,000,000; 200,000
// with -short).
func TestBeamStopCommitsWhatWasRead(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 200_000
	}
	if s := os.Getenv("STREAMS_DRAIN_RECORDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(4), devbroker.Topics("events", "transformed-events"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("events"), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceEvents(ctx, t, cl, n)

	child := childtest.Start(t, drainChildPrefix+b.Addr())
	start := time.Now()
	waitForRecords(ctx, t, b.Addr(), "transformed-events", n/2, child)
	t.Logf("%d outputs of %d inputs after %v; SIGTERM", n/2, n, time.Since(start).Round(time.Millisecond))
	if !child.Terminate(t, time.Minute) {
		t.Fatalf("the pipeline did not stop within a minute of SIGTERM:\n%s", lastLines(child.Stderr(), 20))
	}
	if code := child.ExitCode(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, lastLines(child.Stderr(), 20))
	}
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	offs, err := adm.FetchOffsets(ctx, "drain")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	ends.Each(func(o kadm.ListedOffset) {
		c, _ := offs.Lookup(o.Topic, o.Partition)
		committed += max(c.At, 0)
		if c.At != o.Offset {
			t.Errorf("partition %d: committed %d, end %d", o.Partition, c.At, o.Offset)
		}
	})
	t.Logf("committed %d of %d", committed, n)
	for _, l := range strings.Split(child.Stderr(), "\n") {
		if strings.Contains(l, "stopping") {
			t.Log(l)
		}
	}
	if !strings.Contains(child.Stderr(), "every record read is processed and its offset committed") {
		t.Errorf("the log does not say what was committed:\n%s", lastLines(child.Stderr(), 10))
	}
}

// produceEvents produces n records to cl's default topic, every other one
// of a type the seed pipeline filters out.
func produceEvents(ctx context.Context, t *testing.T, cl *kgo.Client, n int) {
	t.Helper()
	keep, drop := []byte(`{"type":"event"}`), []byte(`{"type":"other"}`)
	const chunk = 10_000
	recs := make([]*kgo.Record, 0, chunk)
	for i := range n {
		v := keep
		if i%2 == 1 {
			v = drop
		}
		recs = append(recs, &kgo.Record{Key: []byte(strconv.Itoa(i % 64)), Value: v})
		if len(recs) == chunk || i == n-1 {
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
			recs = recs[:0]
		}
	}
}

// waitForRecords waits until topic holds n records, failing the test if
// the child (if any) ends first.
func waitForRecords(ctx context.Context, t *testing.T, addr, topic string, n int, child *childtest.Child) {
	t.Helper()
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	for {
		if child != nil && child.Exited() {
			t.Fatalf("the pipeline ended before its outputs were out (exit %d):\n%s", child.ExitCode(), lastLines(child.Stderr(), 20))
		}
		got := topicTotal(ctx, adm, topic)
		if got >= int64(n) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d outputs before the deadline", got, n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// On a remote Beam runner a source without bootstrap_servers is a config
// error: the workers could not reach the development broker. Prism in
// process (and LOOPBACK) keeps the fallback.
func TestRemoteRunnerNeedsBrokers(t *testing.T) {
	cfg, err := config.Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        myinput: {consumer_group: g}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	old := *jobopts.EnvironmentType
	defer func() { *jobopts.EnvironmentType = old }()
	*jobopts.EnvironmentType = "DOCKER"
	err = Run(context.Background(), seedPipeline().MustBuild(), Options{Config: cfg, Adapter: AdapterBeam, BeamRunner: "flink", Logger: slog.New(slog.DiscardHandler)})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "source step myinput: no bootstrap_servers: with --runner=flink the workers run outside this process") {
		t.Fatalf("Run on flink without brokers: %v, want a config error", err)
	}
	*jobopts.EnvironmentType = "LOOPBACK"
	if err := remoteSafe(Options{Adapter: AdapterBeam, BeamRunner: "universal"}, &deployment{needsDevBroker: true}); err != nil {
		t.Errorf("LOOPBACK workers without brokers: %v, want the development broker", err)
	}
}

// topicTotal is the sum of topic's end offsets (-1 when they cannot be
// listed).
func topicTotal(ctx context.Context, adm *kadm.Client, topic string) int64 {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return -1
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}
