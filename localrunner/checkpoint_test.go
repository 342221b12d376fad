package localrunner_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

// crashArmed, once set, makes a partFn with Crash panic: the run fails
// without a final checkpoint, as a killed process stops.
var crashArmed atomic.Bool

// partFn turns a record into its partition number, sleeping Delay first
// (a slow step: a backlog waits in the queue before it).
type partFn struct {
	Delay time.Duration
	Crash bool
}

func (f *partFn) ProcessElement(r kafka.Record) string {
	if f.Crash && crashArmed.Load() {
		panic("crash after a checkpoint that saved queued elements")
	}
	time.Sleep(f.Delay)
	return strconv.Itoa(int(r.Partition))
}

func formatCount(k string, n int) string { return fmt.Sprintf("%s=%d", k, n) }

func init() {
	register.DoFn1x1[kafka.Record, string](&partFn{})
	register.Function2x1(formatCount)
}

// countsPipeline counts the records of each partition of "in" in hourly
// event-time windows, behind a step that takes delay per record.
func countsPipeline(cfg kafka.ReadConfig, delay time.Duration, crash bool, key string) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	parts := beam.ParDo(s, &partFn{Delay: delay, Crash: crash}, kafka.Read(s, cfg))
	counts := stats.Count(s, beam.WindowInto(s, window.NewFixedWindows(time.Hour), parts))
	collect(s, key, beam.ParDo(s, formatCount, counts))
	return p
}

// A checkpoint under a backlog behind a slow step does not wait for the
// queues to drain, only for the bundles in flight (here of 100 elements,
// 50 ms): it saves the queued elements with the state, and a run
// that fails right after such checkpoints, restarted on the same state,
// gives exactly the counts of a run that did not fail.
func TestCheckpointSavesQueuesUnderBacklog(t *testing.T) {
	c, cl, _ := kafkaCluster(t)
	const n = 4000
	base := time.Now().Add(-2 * time.Hour)
	want := map[string]int{}
	var rs []*kgo.Record
	for i := range n {
		ts := base.Add(time.Duration(i) * time.Millisecond)
		rs = append(rs, &kgo.Record{Topic: "in", Partition: int32(i % 2), Value: []byte("v"), Timestamp: ts})
		w := window.IntervalWindow{Start: mtime.FromTime(ts.Truncate(time.Hour)), End: mtime.FromTime(ts.Truncate(time.Hour).Add(time.Hour))}
		want[fmt.Sprintf("%d %v", i%2, w)]++
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := readConfig(c, "ckpt")
	cfg.IdleWallClock = true // the hour windows close once the backlog is read

	var mu sync.Mutex
	var queuedCkpts, emptyCkpts int
	hooks := localrunner.Hooks{Checkpointed: func(ev localrunner.CheckpointEvent) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Err != nil {
			return
		}
		if ev.Queued > 0 {
			queuedCkpts++
		} else {
			emptyCkpts++
		}
		if queuedCkpts >= 3 {
			crashArmed.Store(true)
		}
	}}
	crashArmed.Store(false)
	r, err := localrunner.New(localrunner.WithStateDir(dir, 50*time.Millisecond), localrunner.WithParallelism(2), localrunner.WithMaxBundleSize(100), localrunner.WithHooks(hooks))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = r.Run(ctx, countsPipeline(cfg, 500*time.Microsecond, true, "ckpt1"))
	crashArmed.Store(false)
	mu.Lock()
	t.Logf("first run: %d checkpoints saved queued elements, %d none; ended with %v", queuedCkpts, emptyCkpts, err)
	if queuedCkpts < 3 {
		t.Fatalf("%d checkpoints saved queued elements under the backlog, want 3 or more", queuedCkpts)
	}
	mu.Unlock()
	if err == nil {
		t.Fatal("the first run did not fail")
	}

	stop := runUntil(t, countsPipeline(cfg, 0, false, "ckpt2"), localrunner.WithStateDir(dir, 50*time.Millisecond))
	got := map[string]int{}
	total := func() int {
		clear(got)
		sum := 0
		for _, key := range []string{"ckpt1", "ckpt2"} {
			sinks.mu.Lock()
			for _, r := range sinks.m[key] {
				k, v, _ := strings.Cut(r.Value, "=")
				cnt, _ := strconv.Atoi(v)
				id := k + " " + r.Window
				if got[id] == 0 {
					sum += cnt
				} else if got[id] != cnt {
					t.Errorf("window %s emitted twice with different counts: %d and %d", id, got[id], cnt)
				}
				got[id] = cnt
			}
			sinks.mu.Unlock()
		}
		return sum
	}
	waitFor(t, "every window's count", time.Minute, func() bool { return total() >= n })
	if err := stop(); err != nil && err != context.Canceled {
		t.Fatal(err)
	}
	total()
	for id, cnt := range want {
		if got[id] != cnt {
			t.Errorf("window %s: count %d, want %d", id, got[id], cnt)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d (partition, window) results, want %d: %v", len(got), len(want), got)
	}
	takeRecords("ckpt1")
	takeRecords("ckpt2")
}

// Under a backlog behind a step taking 400 µs per record, a durable run
// checkpoints on its interval (1 s) all along: no two checkpoints are more
// than 3 s apart, and the first comes within 3 s of the start. (Only the
// bundles in flight are awaited, at most 2 of 100 records: 40 ms.)
func TestCheckpointIntervalUnderBacklog(t *testing.T) {
	c, cl, _ := kafkaCluster(t)
	const n = 40000 // 8 s of work at 400 µs a record on 2 bundles at once
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: "in", Partition: int32(i % 2), Value: []byte("v"), Timestamp: time.Now()})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var at []time.Time
	var waits []time.Duration
	hooks := localrunner.Hooks{Checkpointed: func(ev localrunner.CheckpointEvent) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Err == nil {
			at, waits = append(at, time.Now()), append(waits, ev.Wait)
		}
	}}
	start := time.Now()
	stop := runUntil(t, countsPipeline(readConfig(c, "interval"), 400*time.Microsecond, false, "interval"),
		localrunner.WithStateDir(t.TempDir(), time.Second), localrunner.WithParallelism(2), localrunner.WithMaxBundleSize(100),
		localrunner.WithKafkaInflight(2000, 1<<30), localrunner.WithHooks(hooks))
	// Look while the backlog lasts (an idle run does not checkpoint), not
	// at the drain that follows the stop.
	time.Sleep(6 * time.Second)
	stopAt := time.Now()
	if err := stop(); err != nil && err != context.Canceled {
		t.Fatal(err)
	}
	takeRecords("interval")
	mu.Lock()
	defer mu.Unlock()
	for len(at) > 0 && at[len(at)-1].After(stopAt) {
		at, waits = at[:len(at)-1], waits[:len(waits)-1]
	}
	if len(at) == 0 {
		t.Fatalf("no checkpoint in %v under the backlog", stopAt.Sub(start))
	}
	longest, prev := stopAt.Sub(at[len(at)-1]), start
	for _, a := range at {
		longest, prev = max(longest, a.Sub(prev)), a
	}
	t.Logf("%d checkpoints in %v under the backlog; longest gap %v (from the start for the first); waits %v", len(at), prev.Sub(start).Round(time.Millisecond), longest.Round(time.Millisecond), waits)
	// 3 s, not the interval's 1 s: under the race detector on a shared
	// 2-core machine a bundle of 100 records, or the start (topics, the
	// SDK), takes that long. A checkpoint that waited for the backlog
	// would come 8 s late.
	if longest > 3*time.Second || len(at) < 4 {
		t.Errorf("%d checkpoints, %v apart at worst; want at least 4, at most 3s apart", len(at), longest)
	}
}
