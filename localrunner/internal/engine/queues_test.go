package engine

import (
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/state"
)

// The elements of a batch not yet taken survive encoding with its hold
// and arrival; every truncation of the encoding is an error.
func TestQueuedEncoding(t *testing.T) {
	b := kvs(t, 7, []string{"a", "b", "c", "d"}, []int64{1, 2, 3, 4})
	b.arrival = 5
	b.next = 1 // a bundle took "a"
	v := encodeQueued(b)
	got, err := decodeQueued(v)
	if err != nil {
		t.Fatal(err)
	}
	keys, vals := decodeKVs(t, got)
	if !slices.Equal(keys, []string{"b", "c", "d"}) || !slices.Equal(vals, []int64{2, 3, 4}) {
		t.Errorf("decoded %v %v, want the elements not taken: [b c d] [2 3 4]", keys, vals)
	}
	if got.hold != 7 || got.arrival != 5 || got.next != 0 || len(got.fins) != 0 {
		t.Errorf("decoded hold %v arrival %v next %d fins %d; want 7, 5, 0, none", got.hold, got.arrival, got.next, len(got.fins))
	}
	for i := range len(v) - 1 {
		if _, err := decodeQueued(v[:i]); err == nil {
			t.Errorf("decoding the first %d of %d bytes: no error", i, len(v))
		}
	}
}

// What a checkpoint saves of the queues, a new run queues again at the
// same stages, in order, with their arrival; a stateful stage spreads them
// over its lanes again; a later checkpoint replaces what an earlier saved.
func TestQueuesSavedAndRestored(t *testing.T) {
	st, err := state.Open(t.TempDir(), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	specs := func() []*plan.Stage {
		return []*plan.Stage{
			{ID: "s1", Kind: plan.KindSDK, Names: []string{"parse"}},
			{ID: "s2", Kind: plan.KindSDK, Names: []string{"count"}, Stateful: true},
		}
	}
	save := func(e *engine) int {
		b := st.NewBatch()
		defer b.Close()
		n, err := e.saveQueues(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		return n
	}

	e := testEngine(specs()...)
	e.byID["s1"].enqueue(kvs(t, 1, []string{"x", "y"}, []int64{1, 2}))
	e.byID["s1"].enqueue(kvs(t, 2, []string{"z"}, []int64{3}))
	old := kvs(t, 3, []string{"k1", "k2", "k3"}, []int64{4, 5, 6})
	old.arrival = 9
	e.byID["s2"].queue = []*batch{old}
	if n := save(e); n != 6 {
		t.Fatalf("saved %d elements, want 6", n)
	}
	e.byID["s1"].queue = e.byID["s1"].queue[1:] // processed since
	e.byID["s2"].queue[0].next = 1
	if n := save(e); n != 3 {
		t.Fatalf("second checkpoint saved %d elements, want 3", n)
	}

	r := testEngine(specs()...)
	r.byID["s2"].lanes = lanedStage(2).lanes
	r.byID["s2"].keyLen, r.byID["s2"].wdec = lanedStage(2).keyLen, lanedStage(2).wdec
	n, err := r.restoreQueues(st)
	if err != nil || n != 3 {
		t.Fatalf("restored %d elements (%v), want 3", n, err)
	}
	s1, s2 := r.byID["s1"], r.byID["s2"]
	if len(s1.queue) != 1 || s1.queued != 1 || s1.queue[0].hold != 2 {
		t.Fatalf("stage parse: %d batches, %d queued; want the one left, hold 2", len(s1.queue), s1.queued)
	}
	if keys, _ := decodeKVs(t, s1.queue[0]); !slices.Equal(keys, []string{"z"}) {
		t.Errorf("stage parse restored %v, want [z]", keys)
	}
	var keys []string
	for _, q := range s2.queue {
		ks, _ := decodeKVs(t, q)
		keys = append(keys, ks...)
		if q.arrival != 9 || q.hold != mtime.Time(3) {
			t.Errorf("stage count: batch arrival %v hold %v, want 9 and 3", q.arrival, q.hold)
		}
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"k2", "k3"}) || s2.queued != 2 || s2.lanes[0].queued+s2.lanes[1].queued != 2 {
		t.Errorf("stage count restored %v, %d queued, lanes %v; want [k2 k3] over the lanes", keys, s2.queued, s2.lanes)
	}
}

// A checkpoint writes only what changed in a queue since the last one,
// and what two checkpoints and a restore leave is exactly the elements
// not taken, in order: nothing deleted that is queued, nothing stale
// restored twice.
func TestQueuesSavedIncrementally(t *testing.T) {
	st, err := state.Open(t.TempDir(), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	spec := func() *plan.Stage { return &plan.Stage{ID: "s1", Kind: plan.KindSDK, Names: []string{"parse"}} }
	save := func(e *engine) (sets, deletes int) {
		b := st.NewBatch()
		defer b.Close()
		b.Record(func(c state.Change) {
			if c.Delete || c.End != nil {
				deletes++
			} else {
				sets++
			}
		})
		if _, err := e.saveQueues(b); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
		return sets, deletes
	}
	restored := func() []string {
		r := testEngine(spec())
		if _, err := r.restoreQueues(st); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, q := range r.byID["s1"].queue {
			ks, _ := decodeKVs(t, q)
			keys = append(keys, ks...)
		}
		return keys
	}

	e := testEngine(spec())
	s := e.byID["s1"]
	s.enqueue(kvs(t, 1, []string{"a", "b"}, []int64{1, 2}))
	s.enqueue(kvs(t, 1, []string{"c"}, []int64{3}))
	s.enqueue(kvs(t, 1, []string{"d", "e"}, []int64{4, 5}))
	if sets, dels := save(e); sets != 3 || dels != 0 {
		t.Fatalf("first checkpoint: %d writes, %d deletes; want 3 and 0", sets, dels)
	}
	if sets, dels := save(e); sets != 0 || dels != 0 {
		t.Fatalf("checkpoint of an unchanged queue: %d writes, %d deletes; want none", sets, dels)
	}
	// Since: bundles took "a b" and "c" (their batches left the queue)
	// and "d"; "f" came.
	s.queue = s.queue[2:]
	s.queue[0].next = 1
	s.enqueue(kvs(t, 2, []string{"f"}, []int64{6}))
	if sets, dels := save(e); sets != 2 || dels != 2 {
		t.Fatalf("third checkpoint: %d writes, %d deletes; want 2 (the batch taken from, the new one) and 2 (those gone)", sets, dels)
	}
	if got := restored(); !slices.Equal(got, []string{"e", "f"}) {
		t.Fatalf("restored %v, want [e f]", got)
	}

	// A restored run saves its queue anew and deletes the old ids.
	r := testEngine(spec())
	if _, err := r.restoreQueues(st); err != nil {
		t.Fatal(err)
	}
	r.byID["s1"].enqueue(kvs(t, 3, []string{"g"}, []int64{7}))
	if sets, dels := save(r); sets != 3 || dels != 2 {
		t.Fatalf("checkpoint after a restore: %d writes, %d deletes; want 3 and 2", sets, dels)
	}
	if got := restored(); !slices.Equal(got, []string{"e", "f", "g"}) {
		t.Fatalf("restored after a restore and a checkpoint %v, want [e f g]", got)
	}
}
