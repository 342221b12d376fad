package changelog

import (
	"context"
	"maps"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnWriterRestoresCommittedOnly appends three checkpoints of a task
// through a transactional producer, committing the first, aborting the
// second and leaving the third's transaction open: a read_committed
// Restore applies the first only and waits for nothing (its end is the
// last stable offset), while a plain Restore applies the aborted one too.
func TestTxnWriterRestoresCommittedOnly(t *testing.T) {
	_, seeds := newCluster(t)
	cl := newClient(t, seeds, kgo.TransactionalID("txn-writer-test"),
		kgo.RecordPartitioner(Partitioner(nil, "cl")))
	w, err := NewTxnWriter(cl, "cl")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	step := func(epoch uint64, ops []Op, commit bool, end bool) {
		t.Helper()
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		appendSync(t, w, 0, "a/!", epoch, ops)
		if !end {
			return
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	step(1, []Op{set("a/x", "1"), set("a/y", "1")}, true, true)
	step(2, []Op{set("a/x", "2"), del("a/y")}, false, true)
	step(3, []Op{set("a/z", "3")}, false, false)

	committed := append(append([]kgo.Opt{}, seeds...), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	got, res := restoreWith(t, committed, 0, "a/")
	if want := map[string]string{"a/x": "1", "a/y": "1"}; !maps.Equal(got, want) || res.Epoch != 1 {
		t.Errorf("read_committed restore: %v at epoch %d, want %v at epoch 1", got, res.Epoch, want)
	}
	got, res = restoreWith(t, seeds, 0, "a/")
	if want := map[string]string{"a/x": "2", "a/z": "3"}; !maps.Equal(got, want) || res.Epoch != 3 {
		t.Errorf("read_uncommitted restore: %v at epoch %d, want %v at epoch 3", got, res.Epoch, want)
	}
	if err := cl.EndTransaction(context.Background(), kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
}
