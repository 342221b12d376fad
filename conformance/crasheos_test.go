package conformance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/streams-dev/streams/conformance"
	"github.com/streams-dev/streams/devbroker"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCrashExactlyOnce is TestCrashLosesNothing with
// processing_guarantee exactly_once: five kills with SIGKILL while
// records move, each run starting while the killed one still holds its
// partitions and its open transaction, and a read_committed reader must
// see every input message exactly once.
func TestCrashExactlyOnce(t *testing.T) {
	r := crashCopy(t, "eos", true)
	if r.missing != 0 || r.dups != 0 {
		t.Errorf("exactly-once: %d missing, %d duplicates; want none", r.missing, r.dups)
	}
}

// TestBrokerRestartExactlyOnce restarts the broker (on its data
// directory, at the same address) while an exactly-once pipeline moves
// records: the open transaction cannot end while the broker is away. A
// pipeline process that fails is started again, as a supervisor would;
// a read_committed reader must see every input message exactly once.
func TestBrokerRestartExactlyOnce(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	in, out, group := "rst-in", "rst-out", "rst-group"
	dir := t.TempDir()
	start := func(addr string) *devbroker.Broker {
		b, err := devbroker.Start(devbroker.ListenAddr(addr), devbroker.DataDir(dir), devbroker.Partitions(4), devbroker.Topics(in, out))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := start("127.0.0.1:0")
	addr := b.Addr()
	defer func() { b.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	produceCopyInput(ctx, t, addr, in, n)

	spec := conformance.CrashSpecExactlyOnce(addr, in, out, group)
	child := conformance.StartPipeline(t, spec)
	outputs := func() int64 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
		if err != nil {
			return -1
		}
		defer cl.Close()
		return endSum(ctx, kadm.NewClient(cl), out)
	}
	for outputs() < int64(n/3) && ctx.Err() == nil && !child.Exited() {
		time.Sleep(20 * time.Millisecond)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // records and a transaction in flight fail meanwhile
	b = start(addr)

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	restarts := 0
	for !conformance.Committed(ctx, adm, group, in) {
		if ctx.Err() != nil {
			t.Fatalf("input not fully processed after the broker restart:\n%s", child.Stderr())
		}
		if child.Exited() {
			restarts++
			t.Logf("pipeline process exited (%d) after the broker restart; starting it again:\n%s", child.ExitCode(), lastLines(child.Stderr(), 5))
			child = conformance.StartPipeline(t, spec)
		}
		time.Sleep(200 * time.Millisecond)
	}
	child.Stop(t)
	r := countCopies(t, readCommitted(ctx, t, addr, out, n), n)
	msg := fmt.Sprintf("broker restart (exactly-once): in=%d out=%d duplicates=%d missing=%d process restarts=%d", n, r.got, r.dups, r.missing, restarts)
	t.Log(msg)
	fmt.Println(msg)
	if r.missing != 0 || r.dups != 0 {
		t.Errorf("exactly-once across a broker restart: %d missing, %d duplicates; want none", r.missing, r.dups)
	}
}
