package conformance_test

import (
	"context"
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

// TestCrashCountWindowsExact runs count windows (each user's records
// summed seven at a time) on the bundled runner with a state directory,
// killing the process with SIGKILL at random moments and restarting it
// on the same directory. A count window's state (how many records it
// holds, and their sum) must survive each kill exactly: a record lost
// or counted twice would shift every later window of its user, and
// change their starts and sums. Every full window must come out with
// the sum of an uncrashed run, possibly more than once (at least once);
// incomplete windows never.
func TestCrashCountWindowsExact(t *testing.T) {
	n := 60_000
	if testing.Short() {
		n = 12_000
	}
	if s := os.Getenv("STREAMS_CRASH_MESSAGES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const users = 50
	const size = conformance.CrashCountWindowSize
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(4), devbroker.Topics("cw-in", "cw-out"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("cw-in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	// Record i is user i%users's, at base + i ms, with n = i. The user is
	// the record key: the default partitioner keeps a user's records in
	// one partition, in order, so an uncrashed run's windows are known.
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	want := map[window]int{}
	type open struct {
		start int64
		n     int
		sum   int
	}
	pending := map[string]*open{}
	for i := range n {
		user := fmt.Sprintf("u%d", i%users)
		o := pending[user]
		if o == nil {
			o = &open{start: base.Add(time.Duration(i) * time.Millisecond).UnixMilli()}
			pending[user] = o
		}
		o.n++
		o.sum += i
		if o.n == size {
			want[window{user, o.start}] = o.sum
			delete(pending, user)
		}
	}
	record := func(i int) *kgo.Record {
		user := fmt.Sprintf("u%d", i%users)
		return &kgo.Record{Key: []byte(user), Value: fmt.Appendf(nil, `{"user":%q,"n":%d}`, user, i),
			Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
	}

	spec := conformance.CrashCountWindowSpec(b.Addr(), "cw-in", "cw-out", "cw-group", t.TempDir())
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	l := &killLoop{cl: cl, addr: b.Addr(), spec: spec, in: "cw-in", out: "cw-out", group: "cw-group",
		n: n, kills: 4, pause: 300 * time.Millisecond, rng: rng, record: record}
	landed := l.killRuns(ctx, t)

	check := newWindowCheck(want)
	// Once every window is out, two quiet seconds show that no
	// incomplete one comes (it would be a result of a window not wanted).
	over := func(last time.Time) bool {
		quiet := time.Since(last)
		return check.found == len(want) && quiet >= 2*time.Second || quiet >= 30*time.Second
	}
	verdict := l.lastRun(ctx, t, check, over)
	msg := fmt.Sprintf("count-window crash test: kills=%d while moving=%d in=%d %s", l.kills, landed, n, verdict)
	t.Log(msg)
	if landed == 0 {
		t.Errorf("no kill landed while records were moving")
	}
}

// TestCountWindowStateOutlivesInput shows that an incomplete count window
// is kept in the bundled runner's state directory, not re-read from
// Kafka: user a's first three records wait in a window of seven when the
// process is killed, and the input is then deleted from the topic
// (DeleteRecords), so no re-reading can find them. After a restart on the
// same directory, a's next four records complete the window, which must
// start at a's first record and sum all seven. User b's window, full
// before the kill, shows when the records were processed.
func TestCountWindowStateOutlivesInput(t *testing.T) {
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(1), devbroker.Topics("keep-in", "keep-out"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("keep-in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	i := 0
	produce := func(users ...string) {
		for _, u := range users {
			cl.Produce(ctx, &kgo.Record{Key: []byte(u), Value: fmt.Appendf(nil, `{"user":%q,"n":%d}`, u, i),
				Timestamp: base.Add(time.Duration(i) * time.Second)}, nil)
			i++
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// a gets n = 0, 2 and 4 now; b 1, 3 and 5 to 9: a full window.
	produce("a", "b", "a", "b", "a", "b", "b", "b", "b", "b")
	spec := conformance.CrashCountWindowSpec(b.Addr(), "keep-in", "keep-out", "keep-group", t.TempDir())
	child := conformance.StartPipeline(t, spec)
	for endSum(ctx, adm, "keep-out") == 0 && !child.Exited() && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a checkpoint (every second) after the window came out
	child.Stop(t)               // SIGKILL
	waitGroupEmpty(ctx, t, adm, "keep-group")

	ends, err := adm.ListEndOffsets(ctx, "keep-in")
	if err != nil {
		t.Fatal(err)
	}
	del, err := adm.DeleteRecords(ctx, ends.Offsets())
	if err != nil || del.Error() != nil {
		t.Fatalf("delete the input: %v %v", err, del.Error())
	}
	produce("a", "a", "a", "a") // n = 10..13
	child = conformance.StartPipeline(t, spec)
	defer child.Stop(t)
	check := newWindowCheck(map[window]int{
		{"b", base.Add(time.Second).UnixMilli()}: 1 + 3 + 5 + 6 + 7 + 8 + 9,
		{"a", base.UnixMilli()}:                  0 + 2 + 4 + 10 + 11 + 12 + 13,
	})
	check.read(ctx, t, b.Addr(), "keep-out", func(last time.Time) bool {
		quiet := time.Since(last)
		return check.found == 2 && quiet >= 2*time.Second || quiet >= 30*time.Second
	}, func() error {
		if child.Exited() {
			return fmt.Errorf("the pipeline process ended (exit %d):\n%s", child.ExitCode(), child.Stderr())
		}
		return nil
	})
	t.Log(check.verdict(t))
}
