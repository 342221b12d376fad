package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
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
	r := crashCopy(t, "crash", false)
	if r.missing != 0 {
		t.Errorf("%d input messages missing from the output", r.missing)
	}
}

// crashResult is what a crashCopy run found in the output.
type crashResult struct {
	n, got, dups, missing int
}

// crashCopy runs the copy pipeline over topics <name>-in and <name>-out,
// with exactly-once delivery or not, killing its process five times while
// records move, and reads the output (with read_committed under
// exactly-once). It fails t if a kill did not land while records moved.
func crashCopy(t *testing.T, name string, exactlyOnce bool) crashResult {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	if s := os.Getenv("STREAMS_CRASH_MESSAGES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	in, out, group := name+"-in", name+"-out", name+"-group"
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(4), devbroker.Topics(in, out))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic(in))
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

	spec := conformance.CrashSpec(b.Addr(), in, out, group)
	if exactlyOnce {
		spec = conformance.CrashSpecExactlyOnce(b.Addr(), in, out, group)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	adm := kadm.NewClient(cl)
	outputs := func() int64 { return endSum(ctx, adm, out) }
	// Five runs, each killed while records move: before each, a sixth of
	// the input arrives, so every run has a backlog, and the kill comes
	// when the run's output reaches a random point in the first half of
	// what it has to write (at least the input not yet committed), so the
	// run cannot have finished. The runs pile up: each starts at once,
	// while the killed one still holds its partitions (and, under
	// exactly-once, its open transaction).
	const kills = 5
	landed := 0
	for k := range kills {
		produce((k + 1) * n / (kills + 1))
		pending := lag(ctx, t, adm, group, in)
		child := conformance.StartPipeline(t, spec)
		before := outputs()
		target := before + 1 + rng.Int64N(max(pending/2, 1))
		for outputs() < target && !child.Exited() && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		if killWhileMoving(ctx, t, child, adm, group, in) {
			landed++
		}
	}
	produce(n)
	child := conformance.StartPipeline(t, spec)
	for !conformance.Committed(ctx, adm, group, in) {
		if ctx.Err() != nil || child.Exited() {
			t.Fatalf("input not fully processed after %d kills (exit %v):\n%s", kills, child.Exited(), child.Stderr())
		}
		time.Sleep(200 * time.Millisecond)
	}
	child.Stop(t)

	var recs []*kgo.Record
	if exactlyOnce {
		recs = readCommitted(ctx, t, b.Addr(), out, n)
	} else {
		recs = readTopic(ctx, t, adm, b.Addr(), out)
	}
	r := countCopies(t, recs, n)
	msg := fmt.Sprintf("crash test (exactly-once %v): kills=%d while moving=%d in=%d out=%d duplicates=%d missing=%d",
		exactlyOnce, kills, landed, n, r.got, r.dups, r.missing)
	t.Log(msg)
	fmt.Println(msg)
	if landed != kills {
		t.Errorf("%d of the %d kills landed while records were moving, want all", landed, kills)
	}
	return r
}

// countCopies counts, in the copy pipeline's output, the input messages
// 0..n-1 missing and repeated.
func countCopies(t *testing.T, recs []*kgo.Record, n int) crashResult {
	t.Helper()
	r := crashResult{n: n, got: len(recs)}
	seen := make([]int, n)
	for _, rec := range recs {
		var v struct{ Data struct{ ID *int } }
		if err := json.Unmarshal(rec.Value, &v); err != nil || v.Data.ID == nil || *v.Data.ID < 0 || *v.Data.ID >= n {
			t.Errorf("unexpected output record %q", rec.Value)
			continue
		}
		seen[*v.Data.ID]++
	}
	for _, c := range seen {
		if c == 0 {
			r.missing++
		}
		if c > 1 {
			r.dups += c - 1
		}
	}
	return r
}

// produceCopyInput writes the copy pipeline's input messages 0..n-1 to
// topic.
func produceCopyInput(ctx context.Context, t *testing.T, addr, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i % 97)), Value: []byte(fmt.Sprintf(`{"type":"event","data":{"id":%d}}`, i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
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
	// Record i is at about base + 5i ms: 2,000 records a window. The
	// watermark moves with record timestamps only (CrashWindowSpec): at
	// the end, a record in 2100 in each partition closes every window.
	base := time.Now().Add(-3 * time.Hour).Truncate(10 * time.Second)
	want := map[window]int{}
	record := func(i int) *kgo.Record {
		user := fmt.Sprintf("u%d", i%users)
		// Out of order by up to 0.8 s, within the watermark's 1 s skew:
		// never late, but a window's records are not all before the next
		// window's, so reading again from a committed offset (rather than
		// from saved state) would refill a window partially.
		ts := base.Add(time.Duration(i)*5*time.Millisecond + time.Duration(i*7919%801-400)*time.Millisecond)
		want[window{user, ts.Truncate(10 * time.Second).UnixMilli()}]++
		return &kgo.Record{Key: []byte(user), Value: []byte(fmt.Sprintf(`{"user":%q,"page":"/p%d"}`, user, i)), Timestamp: ts}
	}

	const kills = 5
	spec := conformance.CrashWindowSpec(b.Addr(), "win-in", "win-out", "win-group", t.TempDir())
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	l := &killLoop{cl: cl, addr: b.Addr(), spec: spec, in: "win-in", out: "win-out", group: "win-group",
		n: n, kills: kills, pause: 400 * time.Millisecond, rng: rng, record: record}
	landed := l.killRuns(ctx, t)
	closeWindows(ctx, t, b.Addr(), "win-in", 4)

	// The last run goes on until every window came out, or no result came
	// for a minute: then the windows not seen are missing. (The group's
	// commits cannot tell: they need not reach the end while the closers'
	// windows stay open.)
	check := newWindowCheck(want)
	verdict := l.lastRun(ctx, t, check, check.completeOrQuiet(time.Minute))
	msg := fmt.Sprintf("windowed crash test: kills=%d while moving=%d in=%d %s", kills, landed, n, verdict)
	t.Log(msg)
	fmt.Println(msg)
	if landed != kills {
		t.Errorf("%d of the %d kills landed while records were moving, want all", landed, kills)
	}
}
