package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/conformance"
	"github.com/streams-dev/streams/devbroker"
)

// TestCrashLosesNothing moves messages through a pipeline on the bundled
// runner while killing its process with SIGKILL at random moments and
// restarting it; afterwards every input message must be in the output
// (duplicates are allowed under at-least-once, and counted).
func TestCrashLosesNothing(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	if s := os.Getenv("STREAMS_CRASH_MESSAGES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(4), devbroker.Topics("crash-in", "crash-out"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("crash-in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produced := 0
	produce := func(upTo int) {
		for ; produced < upTo; produced++ {
			i := produced
			cl.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i % 97)), Value: []byte(fmt.Sprintf(`{"type":"event","data":{"id":%d}}`, i))}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}

	spec := conformance.CrashSpec(b.Addr(), "crash-in", "crash-out", "crash-group")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	adm := kadm.NewClient(cl)
	outputs := func() int64 { return endSum(ctx, adm, "crash-out") }
	// Five runs, each killed while records move: before each, a sixth of
	// the input arrives, so every run has a backlog, and the kill comes
	// when the run's output reaches a random point in the first half of
	// what it has to write (at least the input not yet committed), so the
	// run cannot have finished.
	const kills = 5
	landed := 0
	for k := range kills {
		produce((k + 1) * n / (kills + 1))
		pending := lag(ctx, t, adm, "crash-group", "crash-in")
		child := conformance.StartPipeline(t, spec)
		before := outputs()
		target := before + 1 + rng.Int64N(max(pending/2, 1))
		for outputs() < target && !child.Exited() && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		if killWhileMoving(ctx, t, child, adm, "crash-group", "crash-in") {
			landed++
		}
	}
	produce(n)
	child := conformance.StartPipeline(t, spec)
	for !conformance.Committed(ctx, adm, "crash-group", "crash-in") {
		if ctx.Err() != nil || child.Exited() {
			t.Fatalf("input not fully processed after %d kills (exit %v):\n%s", kills, child.Exited(), child.Stderr())
		}
		time.Sleep(200 * time.Millisecond)
	}
	child.Stop(t)

	seen := make([]int, n)
	out, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("crash-out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ends, err := adm.ListEndOffsets(ctx, "crash-out")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	var got int64
	for got < total && ctx.Err() == nil {
		out.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			got++
			var v struct{ Data struct{ ID *int } }
			if err := json.Unmarshal(r.Value, &v); err != nil || v.Data.ID == nil || *v.Data.ID < 0 || *v.Data.ID >= n {
				t.Errorf("unexpected output record %q", r.Value)
				return
			}
			seen[*v.Data.ID]++
		})
	}
	missing, dups := 0, 0
	for _, c := range seen {
		if c == 0 {
			missing++
		}
		if c > 1 {
			dups += c - 1
		}
	}
	msg := fmt.Sprintf("crash test: kills=%d while moving=%d in=%d out=%d duplicates=%d missing=%d", kills, landed, n, got, dups, missing)
	t.Log(msg)
	fmt.Println(msg)
	if missing != 0 {
		t.Errorf("%d input messages missing from the output", missing)
	}
	if landed != kills {
		t.Errorf("%d of the %d kills landed while records were moving, want all", landed, kills)
	}
}

// TestCrashWindowsExact counts records per user in 10-second event-time
// windows on the bundled runner with durable state, killing the process
// with SIGKILL at random moments and restarting it on the same state
// directory. Every window of every user must come out with exactly the
// count of an uncrashed run; a window may come out more than once (at
// least once), but only ever with that count.
func TestCrashWindowsExact(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	if s := os.Getenv("STREAMS_CRASH_MESSAGES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const users = 100
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(4), devbroker.Topics("win-in", "win-out"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("win-in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Record i is at about base + 5i ms: 2,000 records a window. The watermark moves with record timestamps only
	// (CrashWindowSpec): at the end, a record in 2100 in each partition
	// closes every window.
	type window struct {
		user  string
		start int64 // Unix ms
	}
	base := time.Now().Add(-3 * time.Hour).Truncate(10 * time.Second)
	want := map[window]int{}
	produced := 0
	produce := func(upTo int) {
		for ; produced < upTo; produced++ {
			i := produced
			user := fmt.Sprintf("u%d", i%users)
			// Out of order by up to 0.8 s, within the watermark's 1 s
			// skew: never late, but a window's records are not all before
			// the next window's, so reading again from a committed offset
			// (rather than from saved state) would refill a window
			// partially.
			ts := base.Add(time.Duration(i)*5*time.Millisecond + time.Duration(i*7919%801-400)*time.Millisecond)
			want[window{user, ts.Truncate(10 * time.Second).UnixMilli()}]++
			cl.Produce(ctx, &kgo.Record{Key: []byte(user), Value: []byte(fmt.Sprintf(`{"user":%q,"page":"/p%d"}`, user, i)), Timestamp: ts}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}

	spec := conformance.CrashWindowSpec(b.Addr(), "win-in", "win-out", "win-group", t.TempDir())
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	adm := kadm.NewClient(cl)
	outputs := func() int64 { return endSum(ctx, adm, "win-out") }
	// Five runs, each killed while records move: before each, a sixth of
	// the input arrives, so every run has windows to fill and fire when it
	// is killed, at a random moment after its first result; the kill must
	// find input not yet committed (open windows hold commits back). The
	// next run starts once the killed member left the group
	// (waitGroupEmpty says why).
	const kills = 5
	landed := 0
	for k := range kills {
		produce((k + 1) * n / (kills + 1))
		child := conformance.StartPipeline(t, spec)
		before := outputs()
		for outputs() <= before && !child.Exited() && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		if killWhileMoving(ctx, t, child, adm, "win-group", "win-in") {
			landed++
		}
		waitGroupEmpty(ctx, t, adm, "win-group")
	}
	produce(n)
	closer, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("win-in"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	for p := range int32(4) {
		closer.Produce(ctx, &kgo.Record{Partition: p, Key: []byte("closer"), Value: []byte(`{"user":"closer"}`), Timestamp: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}, nil)
	}
	if err := closer.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// The last run goes on until every window came out.
	child := conformance.StartPipeline(t, spec)
	defer child.Stop(t)
	out, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("win-out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	seen := map[window]int{}
	var got int64
	wrong := 0
	// Until every window came out, or no result came for a minute: then
	// the windows not seen are missing. (The group's commits cannot tell:
	// they need not reach the end while the closers' windows stay open.)
	quiet := time.Now()
	for len(seen) < len(want) && time.Since(quiet) < time.Minute {
		if ctx.Err() != nil || child.Exited() {
			t.Fatalf("%d of %d windows out (exit %v):\n%s", len(seen), len(want), child.Exited(), child.Stderr())
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := out.PollFetches(pctx)
		cancel()
		if fs.NumRecords() > 0 {
			quiet = time.Now()
		}
		fs.EachRecord(func(r *kgo.Record) {
			got++
			var v struct {
				Key   string    `json:"key"`
				Start time.Time `json:"start"`
				Value int       `json:"value"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				t.Errorf("unexpected output record %q", r.Value)
				return
			}
			w := window{v.Key, v.Start.UnixMilli()}
			if v.Value != want[w] {
				wrong++
				if wrong <= 10 {
					t.Errorf("window %s %s: count %d, want %d", w.user, v.Start.Format(time.TimeOnly), v.Value, want[w])
				}
			}
			seen[w]++
		})
	}
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	var missing []window
	for w := range want {
		if seen[w] == 0 {
			missing = append(missing, w)
		}
	}
	msg := fmt.Sprintf("windowed crash test: kills=%d while moving=%d in=%d windows=%d out=%d duplicates=%d wrong=%d missing=%d", kills, landed, n, len(want), got, dups, wrong, len(missing))
	t.Log(msg)
	fmt.Println(msg)
	if wrong != 0 {
		t.Errorf("%d results with a wrong count", wrong)
	}
	if len(missing) != 0 {
		t.Errorf("%d windows never came out, such as %v", len(missing), missing[:min(len(missing), 10)])
	}
	if landed != kills {
		t.Errorf("%d of the %d kills landed while records were moving, want all", landed, kills)
	}
}
