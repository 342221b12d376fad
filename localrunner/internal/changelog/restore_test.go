package changelog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestoreTasks writes three checkpoints of two tasks sharing
// partition 0 and of one task on partition 1, and restores each task to
// exactly its final state.
func TestRestoreTasks(t *testing.T) {
	_, seeds := newCluster(t)
	w, _ := newWriter(t, seeds)

	checkpoints := []map[string][]Op{
		{
			"a/": {set("a/x", "1"), set("a/y", "1"), set("a/z", "1")},
			"b/": {set("b/x", "b1"), set("b/y", "b1")},
			"c/": {set("c/x", "c1")},
		},
		{
			"a/": {set("a/x", "2"), del("a/y")},
			"b/": {del("b/x"), set("b/w", "b2")},
			"c/": {set("c/x", "c2"), set("c/y", "c2")},
		},
		{
			"a/": {set("a/y", "3"), del("a/z"), set("a/z", "3"), del("a/x")},
			"b/": {set("b/y", "b3")},
			"c/": {del("c/y")},
		},
	}
	partitionOf := map[string]int32{"a/": 0, "b/": 0, "c/": 1}
	ends := map[int32]int64{}
	for i, cp := range checkpoints {
		for _, task := range []string{"a/", "b/", "c/"} {
			p := partitionOf[task]
			ends[p] = max(ends[p], appendSync(t, w, p, task+"!", uint64(i+1), cp[task]))
		}
	}

	want := map[string]map[string]string{
		"a/": {"a/y": "3", "a/z": "3"},
		"b/": {"b/w": "b2", "b/y": "b3"},
		"c/": {"c/x": "c2"},
	}
	// Records of a task: its ops and its 3 markers.
	records := map[string]int{"a/": 9 + 3, "b/": 5 + 3, "c/": 4 + 3}
	for task, p := range partitionOf {
		state, res := restoreMap(t, seeds, p, task)
		if !maps.Equal(state, want[task]) {
			t.Errorf("task %s: restored %v, want %v", task, state, want[task])
		}
		if res.End != ends[p] || res.End != endOf(t, seeds, p) {
			t.Errorf("task %s: End %d, want %d (the last done's end)", task, res.End, ends[p])
		}
		if !res.HasEpoch || res.Epoch != 3 {
			t.Errorf("task %s: epoch %d (has %v), want 3", task, res.Epoch, res.HasEpoch)
		}
		if len(res.Tail) != 0 {
			t.Errorf("task %s: tail %q, want none", task, res.Tail)
		}
		if res.Records != records[task] {
			t.Errorf("task %s: read %d of its records, want %d", task, res.Records, records[task])
		}
	}
}

// TestRestoreIncompleteTail restores a task whose last checkpoint has no
// marker (its writer died mid-append): the tail's ops are not applied and
// their keys are the Tail; writing the tail again with the restored values
// keeps the state through compaction.
func TestRestoreIncompleteTail(t *testing.T) {
	c, seeds := newCluster(t)
	w, cl := newWriter(t, seeds)
	appendSync(t, w, 0, "a/!", 1, []Op{set("a/x", "1"), set("a/y", "1"), set("a/z", "1")})

	// The next checkpoint's ops as the writer produces them, and no marker.
	var rs []*kgo.Record
	for _, op := range []Op{set("a/x", "2"), del("a/y"), set("a/n", "2"), set("a/x", "3")} {
		rs = append(rs, w.record(0, op))
	}
	if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
		t.Fatalf("produce the tail: %v", err)
	}

	state, res := restoreMap(t, seeds, 0, "a/")
	want := map[string]string{"a/x": "1", "a/y": "1", "a/z": "1"}
	if !maps.Equal(state, want) {
		t.Errorf("restored %v, want %v (the tail applied?)", state, want)
	}
	wantTail := [][]byte{[]byte("a/x"), []byte("a/y"), []byte("a/n")}
	if !slices.EqualFunc(res.Tail, wantTail, slices.Equal) {
		t.Errorf("tail %q, want %q", res.Tail, wantTail)
	}
	if !res.HasEpoch || res.Epoch != 1 {
		t.Errorf("epoch %d (has %v), want 1", res.Epoch, res.HasEpoch)
	}

	// The new owner writes the tail's keys again with their restored values.
	var rewrite []Op
	for _, k := range res.Tail {
		if v, ok := state[string(k)]; ok {
			rewrite = append(rewrite, set(string(k), v))
		} else {
			rewrite = append(rewrite, del(string(k)))
		}
	}
	appendSync(t, w, 0, "a/!", 2, rewrite)
	c.Compact()
	state, res = restoreMap(t, seeds, 0, "a/")
	if !maps.Equal(state, want) || len(res.Tail) != 0 || res.Epoch != 2 {
		t.Errorf("after the rewrite and compaction: %v, tail %q, epoch %d; want %v, no tail, epoch 2", state, res.Tail, res.Epoch, want)
	}
}

// TestRestoreEmptyPartition returns at once from a partition with no
// record.
func TestRestoreEmptyPartition(t *testing.T) {
	_, seeds := newCluster(t)
	start := time.Now()
	state, res := restoreMap(t, seeds, 1, "a/")
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v", took)
	}
	if len(state) != 0 || res.End != 0 || res.HasEpoch || res.Records != 0 {
		t.Errorf("restored %v, %+v; want nothing, End 0, no epoch", state, res)
	}
}

// TestRestoreLarge restores a checkpoint of 5,000 ops, a fifth of them
// rewriting or deleting keys written earlier in it.
func TestRestoreLarge(t *testing.T) {
	_, seeds := newCluster(t)
	w, _ := newWriter(t, seeds)
	want := map[string]string{}
	var ops []Op
	for i := range 5000 {
		k := fmt.Sprintf("a/%05d", i%4000)
		switch {
		case i >= 4000 && i%2 == 0:
			ops = append(ops, del(k))
			delete(want, k)
		default:
			v := fmt.Sprintf("v%d", i)
			ops = append(ops, set(k, v))
			want[k] = v
		}
	}
	end := appendSync(t, w, 1, "a/!", 7, ops)
	if end != 5001 {
		t.Errorf("end %d, want 5001", end)
	}
	state, res := restoreMap(t, seeds, 1, "a/")
	if !maps.Equal(state, want) {
		t.Errorf("restored %d keys, want %d; equal: false", len(state), len(want))
	}
	if res.Records != 5001 || res.Epoch != 7 || res.End != 5001 {
		t.Errorf("result %+v, want 5001 records, epoch 7, End 5001", res)
	}
}

// TestRestoreAfterCompaction restores the same state once compaction has
// removed the superseded records (and with them the partition's first
// offsets).
func TestRestoreAfterCompaction(t *testing.T) {
	c, seeds := newCluster(t)
	w, _ := newWriter(t, seeds)
	want := map[string]string{}
	for epoch := uint64(1); epoch <= 5; epoch++ {
		var ops []Op
		for i := range 20 {
			k := fmt.Sprintf("a/%d", (int(epoch)*7+i)%30)
			v := fmt.Sprintf("%d-%d", epoch, i)
			ops = append(ops, set(k, v))
			want[k] = v
		}
		appendSync(t, w, 0, "a/!", epoch, ops)
	}
	before, _ := restoreMap(t, seeds, 0, "a/")
	c.Compact()
	starts, err := admin(t, seeds).ListStartOffsets(t.Context(), "cl")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := starts.Lookup("cl", 0); o.Offset == 0 {
		t.Fatalf("compaction removed nothing at the start (start offset 0): the test shows nothing")
	}
	state, res := restoreMap(t, seeds, 0, "a/")
	if !maps.Equal(state, want) || !maps.Equal(before, want) {
		t.Errorf("restored %v (before compaction %v), want %v", state, before, want)
	}
	if res.Epoch != 5 || res.Records >= 5*21 {
		t.Errorf("result %+v: want epoch 5 and fewer records than the %d written", res, 5*21)
	}
}

// TestRestoreTransactionEnd returns when the partition's last offset is
// a transaction's commit marker, which is no record a consumer sees
// unless it keeps control records.
func TestRestoreTransactionEnd(t *testing.T) {
	_, seeds := newCluster(t)
	w, _ := newWriter(t, seeds)
	appendSync(t, w, 0, "a/!", 1, []Op{set("a/x", "1")})

	txn := newClient(t, seeds, kgo.TransactionalID("other"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(t.Context(), &kgo.Record{Topic: "cl", Partition: 0, Key: []byte("b/x"), Value: []byte("1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := txn.EndTransaction(t.Context(), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	end := endOf(t, seeds, 0)
	if end != 4 { // op, marker, b/x, the commit marker
		t.Fatalf("end %d, want 4", end)
	}

	start := time.Now()
	state, res := restoreMap(t, seeds, 0, "a/")
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v", took)
	}
	if state["a/x"] != "1" || len(state) != 1 || res.End != end {
		t.Errorf("restored %v, End %d; want a/x=1, End %d", state, res.End, end)
	}
}

// TestRestoreEmptyValue restores an empty value as a set, not a delete.
func TestRestoreEmptyValue(t *testing.T) {
	_, seeds := newCluster(t)
	w, _ := newWriter(t, seeds)
	appendSync(t, w, 0, "a/!", 1, []Op{{Key: []byte("a/nil")}, {Key: []byte("a/empty"), Value: []byte{}}})
	state, _ := restoreMap(t, seeds, 0, "a/")
	want := map[string]string{"a/nil": "", "a/empty": ""}
	if !maps.Equal(state, want) {
		t.Errorf("restored %v, want %v", state, want)
	}
}

// TestRestoreErrors checks the errors of a corrupt marker, a failing
// apply, bad arguments and an expired context.
func TestRestoreErrors(t *testing.T) {
	_, seeds := newCluster(t)
	w, cl := newWriter(t, seeds)
	appendSync(t, w, 0, "a/!", 1, []Op{set("a/x", "1")})
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "cl", Partition: 1, Key: []byte("a/!"), Value: []byte("bad")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	noop := func(Op) error { return nil }

	if _, err := Restore(ctx, seeds, "cl", 1, []byte("a/"), []byte("a/!"), noop); !errors.Is(err, ErrCorrupt) {
		t.Errorf("corrupt marker: %v, want ErrCorrupt", err)
	}
	boom := errors.New("boom")
	if _, err := Restore(ctx, seeds, "cl", 0, []byte("a/"), []byte("a/!"), func(Op) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("failing apply: %v, want boom", err)
	}
	if _, err := Restore(ctx, seeds, "cl", 0, []byte("a/"), []byte("b/!"), noop); err == nil {
		t.Error("a marker outside the prefix: no error")
	}
	if _, err := Restore(ctx, append(seeds, kgo.ConsumerGroup("g")), "cl", 0, []byte("a/"), []byte("a/!"), noop); err == nil {
		t.Error("options with a consumer group: no error")
	}
	if _, err := Restore(ctx, seeds, "missing", 0, []byte("a/"), []byte("a/!"), noop); err == nil {
		t.Error("a missing topic: no error")
	}
	short, cancel2 := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel2()
	<-short.Done()
	if _, err := Restore(short, seeds, "cl", 0, []byte("a/"), []byte("a/!"), noop); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired context: %v, want DeadlineExceeded", err)
	}
}
