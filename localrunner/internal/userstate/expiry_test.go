package userstate

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/streams-dev/streams/state"
	"github.com/streams-dev/streams/state/statetest"
)

// interval encodes the window [start, end) (milliseconds; its max
// timestamp is end-1) as the SDK encodes state windows.
func interval(t testing.TB, start, end int64) string {
	t.Helper()
	b, err := exec.EncodeWindow(exec.MakeWindowEncoder(coder.NewIntervalWindow()), window.IntervalWindow{Start: mtime.Time(start), End: mtime.Time(end)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fill commits, for each window and key, a bag, a multimap with two map
// keys and an ordered list: four cells per key and window.
func fill(t *testing.T, m *Memory, windows []string, keys ...string) {
	t.Helper()
	tx := Begin(m)
	for _, w := range windows {
		for _, k := range keys {
			tx.AppendBag(Key{Transform: "t", State: "bag", Key: k, Window: w}, []byte("v"))
			tx.AppendMultimap(Key{Transform: "t", State: "map", Key: k, Window: w}, "x", []byte("1"))
			tx.AppendMultimap(Key{Transform: "t", State: "map", Key: k, Window: w}, "y", []byte("2"))
			tx.OrderedListAppender(Key{Transform: "t", State: "list", Key: k, Window: w}).Write(entry(3, "e"))
		}
	}
	if err := m.Commit(tx); err != nil {
		t.Fatal(err)
	}
}

// windowsOf returns the distinct windows of m's cells.
func windowsOf(m *Memory) map[string]bool {
	ws := map[string]bool{}
	for k := range m.bags {
		ws[k.Window] = true
	}
	for k := range m.multimaps {
		ws[k.Window] = true
	}
	for k := range m.lists {
		ws[k.Window] = true
	}
	return ws
}

// TestExpireDropsExpiredWindows: Expire drops every kind of cell of the
// windows whose max timestamp plus the allowed lateness is before the
// watermark, and nothing else; the count is what Size loses.
func TestExpireDropsExpiredWindows(t *testing.T) {
	w0, w1, w2 := interval(t, 0, 10), interval(t, 10, 20), interval(t, 20, 30)
	for _, tc := range []struct {
		lateness int64
		// expire0 is the first watermark at which w0 (max timestamp 9)
		// has expired.
		expire0 mtime.Time
	}{{0, 10}, {5, 15}} {
		m := NewExpiring(coder.NewIntervalWindow(), tc.lateness)
		fill(t, m, []string{w0, w1, w2}, "a", "b")
		if m.Size() != 24 {
			t.Fatalf("lateness %d: %d cells, want 24", tc.lateness, m.Size())
		}
		if n := m.Expire(tc.expire0 - 1); n != 0 || m.Size() != 24 {
			t.Errorf("lateness %d: at the expiry of w0 (not past it): dropped %d, %d cells left; want 0, 24", tc.lateness, n, m.Size())
		}
		if n := m.Expire(tc.expire0); n != 8 || m.Size() != 16 {
			t.Errorf("lateness %d: past the expiry of w0: dropped %d, %d cells left; want 8, 16", tc.lateness, n, m.Size())
		}
		if ws := windowsOf(m); ws[w0] || !ws[w1] || !ws[w2] {
			t.Errorf("lateness %d: windows left %x, want w1 and w2", tc.lateness, slices.Collect(maps.Keys(ws)))
		}
		if got := string(m.Bag(Key{Transform: "t", State: "bag", Key: "a", Window: w1})); got != "v" {
			t.Errorf("lateness %d: w1's bag %q, want v", tc.lateness, got)
		}
		if n := m.Expire(tc.expire0); n != 0 {
			t.Errorf("lateness %d: expiring again dropped %d", tc.lateness, n)
		}
		if n := m.Expire(mtime.MaxTimestamp); n != 16 || m.Size() != 0 {
			t.Errorf("lateness %d: at the end of time: dropped %d, %d cells left; want 16, 0", tc.lateness, n, m.Size())
		}
		if len(m.exp.wins) != 0 || len(m.exp.heap) != 0 {
			t.Errorf("lateness %d: the index still holds %d windows, %d in the heap", tc.lateness, len(m.exp.wins), len(m.exp.heap))
		}
	}
}

// TestExpireNeverDropsTheGlobalWindow: in the global window nothing
// expires, nor in a store made by NewMemory (which does not decode
// windows at all).
func TestExpireNeverDropsTheGlobalWindow(t *testing.T) {
	global, err := exec.EncodeWindow(exec.MakeWindowEncoder(coder.NewGlobalWindow()), window.GlobalWindow{})
	if err != nil {
		t.Fatal(err)
	}
	m := NewExpiring(coder.NewGlobalWindow(), 0)
	fill(t, m, []string{string(global)}, "a", "b")
	if n := m.Expire(mtime.MaxTimestamp); n != 0 || m.Size() != 8 {
		t.Errorf("global window at the end of time: dropped %d, %d cells left; want 0, 8", n, m.Size())
	}
	plain := NewMemory()
	fill(t, plain, []string{"not a window", interval(t, 0, 10)}, "a")
	if n := plain.Expire(mtime.MaxTimestamp); n != 0 || plain.Size() != 8 {
		t.Errorf("NewMemory: dropped %d, %d cells left; want 0, 8", n, plain.Size())
	}
}

// TestExpireTracksEmptiedCellsAndLateWrites: a cell emptied before its
// window expires is not counted (nor kept in the index); a write to a
// window that already expired is dropped at the next Expire.
func TestExpireTracksEmptiedCellsAndLateWrites(t *testing.T) {
	w0, w1 := interval(t, 0, 10), interval(t, 10, 20)
	m := NewExpiring(coder.NewIntervalWindow(), 0)
	fill(t, m, []string{w0, w1}, "a")
	tx := Begin(m)
	tx.ClearBag(Key{Transform: "t", State: "bag", Key: "a", Window: w0})
	tx.ClearMultimapKey(Key{Transform: "t", State: "map", Key: "a", Window: w0}, "x")
	if err := m.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if n := len(m.exp.wins[w0].cells); n != 2 {
		t.Errorf("w0 indexes %d cells after its bag was cleared, want 2 (map, list)", n)
	}
	if n := m.Expire(10); n != 2 || m.Size() != 4 {
		t.Errorf("w0 expired: dropped %d, %d cells left; want 2 (a map key, a list), 4", n, m.Size())
	}
	// Late data: the window is indexed again, and dropped again.
	tx = Begin(m)
	tx.AppendBag(Key{Transform: "t", State: "bag", Key: "late", Window: w0}, []byte("z"))
	if err := m.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if m.Size() != 5 {
		t.Fatalf("%d cells after a late write, want 5", m.Size())
	}
	if n := m.Expire(10); n != 1 || m.Size() != 4 {
		t.Errorf("late write to an expired window: dropped %d, %d cells left; want 1, 4", n, m.Size())
	}
}

// TestCommitRefusesAnUndecodableWindow: a window the coder cannot decode
// fails the Commit, which then changes nothing.
func TestCommitRefusesAnUndecodableWindow(t *testing.T) {
	m := NewExpiring(coder.NewIntervalWindow(), 0)
	tx := Begin(m)
	tx.AppendBag(Key{Transform: "t", State: "bag", Key: "a", Window: interval(t, 0, 10)}, []byte("v"))
	tx.AppendBag(Key{Transform: "t", State: "bag", Key: "a", Window: "x"}, []byte("v"))
	if err := m.Commit(tx); err == nil {
		t.Error("Commit with an undecodable window succeeded")
	}
	if m.Size() != 0 {
		t.Errorf("a failed Commit left %d cells", m.Size())
	}
}

// TestCheckpointDeletesExpiredCells: the cells Expire drops are deleted
// from the checkpoint, a restore does not bring them back, and a restored
// store expires the others (it rebuilt its index).
func TestCheckpointDeletesExpiredCells(t *testing.T) {
	s := statetest.Open(t, t.TempDir())
	defer s.Close()
	prefix := state.NewKey(state.NSUser).Text("stage-gc")
	w0, w1, w2 := interval(t, 0, 10), interval(t, 10, 20), interval(t, 20, 30)

	m := NewExpiring(coder.NewIntervalWindow(), 0)
	fill(t, m, []string{w0}, "a") // expires before the first checkpoint
	if n := m.Expire(10); n != 4 {
		t.Fatalf("dropped %d before the first checkpoint, want 4", n)
	}
	fill(t, m, []string{w0, w1, w2}, "a", "b")
	checkpoint(t, s, m, prefix)
	if n := count(t, s, prefix); n != 24 {
		t.Fatalf("first checkpoint: %d keys, want 24 (a map key is a key)", n)
	}
	if n := m.Expire(20); n != 16 {
		t.Fatalf("dropped %d, want w0's and w1's 16", n)
	}
	if checkpoint(t, s, m, prefix) == 0 {
		t.Error("the checkpoint after Expire wrote nothing")
	}
	if n := count(t, s, prefix); n != 8 {
		t.Errorf("after Expire and a checkpoint: %d keys, want w2's 8", n)
	}
	r := NewExpiring(coder.NewIntervalWindow(), 0)
	if err := r.Restore(s, prefix); err != nil {
		t.Fatal(err)
	}
	if got, want := dump(r), dump(m); got != want {
		t.Errorf("restored\n%s\nwant\n%s", got, want)
	}
	if ws := windowsOf(r); len(ws) != 1 || !ws[w2] {
		t.Errorf("restored windows %x, want w2 only", slices.Collect(maps.Keys(ws)))
	}
	if n := r.Expire(29); n != 0 {
		t.Errorf("restored: dropped %d before w2 expired", n)
	}
	if n := r.Expire(30); n != 8 || r.Size() != 0 {
		t.Errorf("restored: dropped %d when w2 expired, %d cells left; want 8, 0", n, r.Size())
	}
	checkpoint(t, s, r, prefix)
	if n := count(t, s, prefix); n != 0 {
		t.Errorf("every window expired: %d keys left under the prefix", n)
	}
	if err := NewExpiring(coder.NewIntervalWindow(), 0).Restore(s, prefix); err != nil {
		t.Fatal(err)
	}
}

// TestExpireCheckpointRestoreIsExact is TestCheckpointRestoreIsExact with
// windows that expire as a watermark moves (late writes included): a
// store checkpointed and restored at random holds what one never
// checkpointed holds.
func TestExpireCheckpointRestoreIsExact(t *testing.T) {
	seed := statetest.Seed(t)
	r := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	s := statetest.Open(t, dir)
	defer func() { s.Close() }()
	prefix := state.NewKey(state.NSUser).Text("stage-3")
	var windows []string
	for i := range int64(6) {
		windows = append(windows, interval(t, 10*i, 10*i+10))
	}
	ref, dur := NewExpiring(coder.NewIntervalWindow(), 5), NewExpiring(coder.NewIntervalWindow(), 5)
	wm, dropped := mtime.Time(0), 0
	for i := range 300 {
		change := randomTxn(r, windows...)
		for _, m := range []*Memory{ref, dur} {
			tx := Begin(m)
			change(tx)
			if err := m.Commit(tx); err != nil {
				t.Fatal(err)
			}
		}
		if r.IntN(4) == 0 {
			wm += mtime.Time(r.IntN(3))
			n := ref.Expire(wm)
			if m := dur.Expire(wm); m != n {
				t.Fatalf("commit %d (seed %d): Expire(%d) dropped %d and %d", i, seed, wm, n, m)
			}
			dropped += n
		}
		if got, want := dump(dur), dump(ref); got != want {
			t.Fatalf("commit %d (seed %d): the restored store holds\n%s\nwant\n%s", i, seed, got, want)
		}
		if r.IntN(3) > 0 {
			continue
		}
		checkpoint(t, s, dur, prefix)
		var restart bool
		if s, restart = statetest.MaybeRestart(t, r, s, dir); !restart {
			continue
		}
		dur = NewExpiring(coder.NewIntervalWindow(), 5)
		if err := dur.Restore(s, prefix); err != nil {
			t.Fatal(err)
		}
	}
	if dropped == 0 {
		t.Errorf("seed %d: nothing expired, the test tested nothing", seed)
	}
	if n := dur.Expire(mtime.MaxTimestamp); n != ref.Expire(mtime.MaxTimestamp) || dur.Size() != 0 {
		t.Errorf("at the end of time: dropped %d, %d cells left", n, dur.Size())
	}
	checkpoint(t, s, dur, prefix)
	if n := count(t, s, prefix); n != 0 {
		t.Errorf("every window expired: %d keys left under the prefix", n)
	}
}
