package engine

import (
	"fmt"
	"slices"
	"testing"

	"github.com/streams-dev/streams/localrunner/internal/kafkasource"
	"github.com/streams-dev/streams/state"
)

// The changes a checkpoint makes under a task's prefix become the task's
// changelog ops: sets as they are, a range deletion as a tombstone for
// every key it deletes (stored ones, and ones the batch set before it),
// nothing of other tasks', of keys outside tasks, or of the task's local
// bookkeeping (NSMeta).
func TestRecorderOps(t *testing.T) {
	e := testEngine(taskPipeline(true)...)
	st, err := state.Open(t.TempDir(), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e.cfg.State = st
	src := e.byID["src"]
	e.logs[src] = &taskLog{}
	e.onPartitions(src, []kafkasource.PartitionEvent{{Topic: "in", Partition: 0, Assigned: true}, {Topic: "in", Partition: 1, Assigned: true}})
	p0, p1 := e.tasks[sourcePartition{"g", "in", 0}], e.tasks[sourcePartition{"g", "in", 1}]
	key := func(t *task, s string) state.Key { return slices.Clip(t.prefix).Sub(state.NSGroup).Text(s) }

	seed := st.NewBatch()
	seed.Set(key(p0, "old"), []byte("1"))
	seed.Set(key(p1, "other"), []byte("1"))
	if err := seed.Commit(); err != nil {
		t.Fatal(err)
	}
	seed.Close()

	r := e.newRecorder()
	b := st.NewBatch()
	defer b.Close()
	b.Record(func(c state.Change) { e.record(r, c) })
	b.Set(key(p0, "kept"), []byte("2"))
	b.Set(key(p0, "set-then-deleted"), []byte("3"))
	b.DeletePrefix(append(slices.Clip(p0.prefix).Sub(state.NSGroup), "set"...)) // a range over keys the batch set
	b.DeletePrefix(key(p0, "old"))
	b.Set(taskCkptKey(p0.id), []byte("local"))
	b.Set(state.NewKey(state.NSSource).Text("shared"), []byte("x"))
	if r.err != nil {
		t.Fatal(r.err)
	}
	var got []string
	for k, op := range r.ops[p0] {
		got = append(got, fmt.Sprintf("%q delete=%v value=%q", k[len(p0.prefix):], op.Delete, op.Value))
	}
	slices.Sort(got)
	want := []string{
		fmt.Sprintf("%q delete=false value=%q", key(p0, "kept")[len(p0.prefix):], "2"),
		fmt.Sprintf("%q delete=true value=%q", key(p0, "old")[len(p0.prefix):], ""),
		fmt.Sprintf("%q delete=true value=%q", key(p0, "set-then-deleted")[len(p0.prefix):], ""),
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ops of partition 0:\n got %q\nwant %q", got, want)
	}
	if len(r.ops[p1]) != 0 || len(r.ops) != 1 {
		t.Errorf("ops of other tasks: %v", r.ops)
	}
}
