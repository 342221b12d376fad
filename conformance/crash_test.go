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
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Key: []byte(strconv.Itoa(i % 97)), Value: []byte(fmt.Sprintf(`{"type":"event","data":{"id":%d}}`, i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	spec := conformance.CrashSpec(b.Addr(), "crash-in", "crash-out", "crash-group")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	kills := 0
	adm := kadm.NewClient(cl)
	outputs := func() int64 {
		ends, err := adm.ListEndOffsets(ctx, "crash-out")
		if err != nil {
			return -1
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
		return sum
	}
	for kills < 5 {
		child := conformance.StartPipeline(t, spec)
		// Kill only once this process is moving messages, at a random
		// moment after that: a kill during start-up proves nothing.
		before := outputs()
		for outputs() <= before && !child.Exited() && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		if child.Exited() {
			t.Fatalf("pipeline process ended by itself (exit %d):\n%s", child.ExitCode(), child.Stderr())
		}
		child.Stop(t) // SIGKILL
		kills++
		if conformance.Committed(ctx, adm, "crash-group", "crash-in") {
			break // all committed before the next kill: nothing left to crash
		}
	}
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
	t.Logf("crash test: kills=%d in=%d out=%d duplicates=%d missing=%d", kills, n, got, dups, missing)
	fmt.Printf("crash test: kills=%d in=%d out=%d duplicates=%d missing=%d\n", kills, n, got, dups, missing)
	if missing != 0 {
		t.Errorf("%d input messages missing from the output", missing)
	}
}
