package userstate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/streams-dev/streams/state"
	"github.com/streams-dev/streams/state/statetest"
)

// checkpoint commits m's checkpoint under prefix and returns the batch's
// size (0: empty).
func checkpoint(t *testing.T, s *state.Store, m *Memory, prefix state.Key) int {
	t.Helper()
	return statetest.Commit(t, s, func(w *state.Batch) error { return m.Checkpoint(w, prefix) })
}

func restore(t *testing.T, s *state.Store, prefix state.Key) *Memory {
	t.Helper()
	m := NewMemory()
	if err := m.Restore(s, prefix); err != nil {
		t.Fatal(err)
	}
	return m
}

func count(t *testing.T, s *state.Store, prefix state.Key) int {
	t.Helper()
	n := 0
	if err := s.Scan(prefix, func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// dump renders every cell of m, sorted.
func dump(m *Memory) string {
	var lines []string
	for k, v := range m.bags {
		lines = append(lines, fmt.Sprintf("bag %q = %q", k, v))
	}
	for k, mm := range m.multimaps {
		for mk, v := range mm {
			lines = append(lines, fmt.Sprintf("multimap %q[%q] = %q", k, mk, v))
		}
	}
	for k, l := range m.lists {
		var es []string
		for _, e := range l {
			es = append(es, fmt.Sprintf("%d:%q", e.SortKey, e.Data))
		}
		lines = append(lines, fmt.Sprintf("list %q = %s", k, strings.Join(es, " ")))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// randomTxn returns a bundle's changes, to apply to a Txn: appends and
// clears of bags, multimaps (keys and whole maps) and ordered lists
// (entries and ranges), over a few cells (keys and windows with zero
// bytes included), in the given windows or a few made up.
func randomTxn(r *rand.Rand, windows ...string) func(*Txn) {
	pick := func(s ...string) string { return s[r.IntN(len(s))] }
	if len(windows) == 0 {
		windows = []string{"w1", "", "\x00w"}
	}
	var ops []func(*Txn)
	for range 1 + r.IntN(6) {
		k := Key{Transform: pick("t1", "t2"), Key: pick("k1", "k2", "k\x00"), Window: pick(windows...)}
		data := []byte(fmt.Sprint(r.IntN(1000), ";"))
		switch r.IntN(7) {
		case 0, 1:
			k.State = "bag"
			ops = append(ops, func(t *Txn) { t.BagAppender(k).Write(data) })
		case 2:
			k.State = "bag"
			ops = append(ops, func(t *Txn) { t.BagClearer(k).Write(nil) })
		case 3:
			k.State = "map"
			mk := pick("x", "y", "z\x00")
			if r.IntN(3) == 0 {
				ops = append(ops, func(t *Txn) { t.MultimapClearer(k, mk).Write(nil) })
			} else {
				ops = append(ops, func(t *Txn) { t.MultimapAppender(k, mk).Write(data) })
			}
		case 4:
			k.State = "map"
			ops = append(ops, func(t *Txn) { t.MultimapKeysClearer(k).Write(nil) })
		case 5:
			k.State = "list"
			e := entry(r.Int64N(10)-5, string(data))
			ops = append(ops, func(t *Txn) { t.OrderedListAppender(k).Write(e) })
		case 6:
			k.State = "list"
			start := r.Int64N(12) - 6
			end := start + r.Int64N(6)
			ops = append(ops, func(t *Txn) { t.OrderedListClearer(k, start, end).Write(nil) })
		}
	}
	return func(t *Txn) {
		for _, op := range ops {
			op(t)
		}
	}
}

// TestCheckpointRestoreIsExact commits the same random Txns to a reference
// store and to one that is checkpointed at random and then, at random,
// restored (from a store closed and opened again, at times): both must
// hold the same cells after every commit. Once every cell is cleared,
// nothing is left under the prefix, and a checkpoint without changes
// writes nothing.
func TestCheckpointRestoreIsExact(t *testing.T) {
	seed := statetest.Seed(t)
	r := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	s := statetest.Open(t, dir)
	defer func() { s.Close() }()
	prefix := state.NewKey(state.NSUser).Text("stage-1")
	ref, dur := NewMemory(), NewMemory()
	commit := func(change func(*Txn)) {
		t.Helper()
		for _, m := range []*Memory{ref, dur} {
			tx := Begin(m)
			change(tx)
			if err := m.Commit(tx); err != nil {
				t.Fatal(err)
			}
		}
	}
	restores, most := 0, 0
	for i := range 300 {
		commit(randomTxn(r))
		if got, want := dump(dur), dump(ref); got != want {
			t.Fatalf("commit %d (seed %d): the restored store holds\n%s\nwant\n%s", i, seed, got, want)
		}
		most = max(most, ref.Size())
		if r.IntN(3) > 0 {
			continue
		}
		checkpoint(t, s, dur, prefix)
		var restart bool
		if s, restart = statetest.MaybeRestart(t, r, s, dir); !restart {
			continue
		}
		dur = restore(t, s, prefix)
		restores++
	}
	t.Logf("%d restores, up to %d cells", restores, most)
	var clears []func(*Txn)
	for k := range ref.bags {
		clears = append(clears, func(t *Txn) { t.ClearBag(k) })
	}
	for k := range ref.multimaps {
		clears = append(clears, func(t *Txn) { t.ClearMultimap(k) })
	}
	for k := range ref.lists {
		clears = append(clears, func(t *Txn) { t.OrderedListClearer(k, -10, 10).Write(nil) })
	}
	commit(func(t *Txn) {
		for _, c := range clears {
			c(t)
		}
	})
	if ref.Size() != 0 || dur.Size() != 0 {
		t.Fatalf("cleared: %d and %d cells left", ref.Size(), dur.Size())
	}
	checkpoint(t, s, dur, prefix)
	if n := count(t, s, prefix); n != 0 {
		t.Errorf("every cell cleared: %d keys left under the prefix", n)
	}
	if n := checkpoint(t, s, dur, prefix); n != 0 {
		t.Errorf("a checkpoint without changes wrote %d bytes", n)
	}
}

// A checkpoint costs the cells that changed; the first one writes the
// whole store over whatever the prefix held.
func TestCheckpointIsIncremental(t *testing.T) {
	s := statetest.Open(t, t.TempDir())
	defer s.Close()
	prefix := state.NewKey(state.NSUser).Text("stage-2")
	stale := s.NewBatch()
	stale.Set(prefix.Text("stale"), []byte("x"))
	if err := stale.Commit(); err != nil {
		t.Fatal(err)
	}
	m := NewMemory()
	tx := Begin(m)
	for i := range 1000 {
		tx.AppendBag(Key{Transform: "t", State: "count", Key: fmt.Sprint("key-", i)}, []byte("some bytes"))
	}
	if err := m.Commit(tx); err != nil {
		t.Fatal(err)
	}
	full := checkpoint(t, s, m, prefix)
	if n := count(t, s, prefix); n != 1000 {
		t.Errorf("first checkpoint: %d keys, want the 1000 bags", n)
	}
	if n := checkpoint(t, s, m, prefix); n != 0 {
		t.Errorf("no change: %d bytes", n)
	}
	tx = Begin(m)
	tx.AppendBag(Key{Transform: "t", State: "count", Key: "key-7"}, []byte("more"))
	if err := m.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if one := checkpoint(t, s, m, prefix); one == 0 || one > 100 {
		t.Errorf("one bag changed: %d bytes (the whole store: %d)", one, full)
	}
	if got := string(restore(t, s, prefix).Bag(Key{Transform: "t", State: "count", Key: "key-7"})); got != "some bytesmore" {
		t.Errorf("restored key-7: %q", got)
	}
	if err := m.Restore(s, prefix); err == nil {
		t.Error("Restore into a store in use succeeded")
	}
}
