package engine

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/streams-dev/streams/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A restore from a changelog that ends in an incomplete checkpoint (a
// tail) must not make the local copy current: a process killed before
// its first checkpoint of the task reached the changelog would otherwise
// trust its local copy on the next start, never write the tail's keys
// again, and a later restore would apply the incomplete checkpoint under
// the next complete one (a window's pane without the panes before it:
// the restart then refuses the state).
func TestRestoreFromLogKeepsTheTail(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	if err := c.CreateTopic("log", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(slices.Clone(opts), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	id := sourcePartition{"g", "in", 0}
	key := func(s string) []byte { return slices.Clip(taskKey(id)).Sub(state.NSGroup).Text(s) }
	epoch := binary.BigEndian.AppendUint64(nil, 7)
	recs := []*kgo.Record{
		{Key: key("a"), Value: []byte("1")},
		{Key: taskPositionKey(id), Value: int64Value(42)},
		{Key: taskMarkerKey(id), Value: epoch},
		{Key: key("b"), Value: []byte("tail")}, // no marker follows
	}
	for _, r := range recs {
		r.Topic = "log"
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := state.Open(t.TempDir(), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := &taskLog{topic: "log", opts: opts, adm: kadm.NewClient(cl)}

	// Two starts in a row, the first killed before its first checkpoint:
	// both restore the complete checkpoint and report the tail.
	for start := range 2 {
		tail, err := l.restoreFromLog(ctx, st, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(tail) != 1 || string(tail[0]) != string(key("b")) {
			t.Fatalf("start %d: tail %q, want the key of the incomplete checkpoint", start, tail)
		}
		if v, ok, err := st.Get(key("a")); err != nil || !ok || string(v) != "1" {
			t.Fatalf("start %d: restored a = %q, %v, %v", start, v, ok, err)
		}
		if _, ok, err := st.Get(key("b")); err != nil || ok {
			t.Fatalf("start %d: the tail's key was applied (%v, %v)", start, ok, err)
		}
	}

	// Once a checkpoint of the task is in the changelog (recordLogEnds),
	// the local copy is current.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "log", Key: key("b"), Value: nil}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := cl.ProduceSync(ctx, &kgo.Record{Topic: "log", Key: taskMarkerKey(id), Value: binary.BigEndian.AppendUint64(nil, 8)})
	if err := r.FirstErr(); err != nil {
		t.Fatal(err)
	}
	b := st.NewBatch()
	b.Set(taskCkptKey(id), int64Value(8))
	b.Set(taskLogEndKey(id), append(int64Value(r[0].Record.Offset+1), int64Value(8)...))
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	b = st.NewBatch()
	b.Set(key("local"), []byte("only here")) // a current copy is not replaced
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	tail, err := l.restoreFromLog(ctx, st, id)
	if err != nil || len(tail) != 0 {
		t.Fatalf("after a complete checkpoint: tail %q, %v", tail, err)
	}
	if _, ok, _ := st.Get(key("local")); !ok {
		t.Error("a current local copy was replaced by the changelog's")
	}
}
