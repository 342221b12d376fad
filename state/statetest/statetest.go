// Package statetest helps tests of code that checkpoints into a
// state.Store: opening a store, committing one checkpoint, and seeding
// randomized tests reproducibly.
package statetest

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streams-dev/streams/state"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the randomized checkpoint tests (0: from the clock)")

// Open opens the store in dir without syncing commits (tests do not
// survive power loss) and fails t on error.
func Open(t testing.TB, dir string) *state.Store {
	t.Helper()
	s, err := state.Open(dir, state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Commit writes one checkpoint into s with write and commits it; it
// returns the batch's size, 0 when write added nothing.
func Commit(t testing.TB, s *state.Store, write func(*state.Batch) error) int {
	t.Helper()
	b := s.NewBatch()
	defer b.Close()
	if err := write(b); err != nil {
		t.Fatal(err)
	}
	size := 0
	if !b.Empty() {
		size = b.Size()
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	return size
}

// Seed returns the -seed flag, or a seed from the clock, and logs it so
// that a failing run can be repeated.
func Seed(t testing.TB) uint64 {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (-seed to repeat)", seed)
	return seed
}

// MaybeRestart is the random restart of a differential checkpoint test,
// called after a checkpoint: half the time it says to restore (restart),
// and then half the time it first closes s and opens it again, as after a
// process restart. It returns the store to go on with.
func MaybeRestart(t testing.TB, r *rand.Rand, s *state.Store, dir string) (_ *state.Store, restart bool) {
	t.Helper()
	if r.IntN(2) == 0 {
		return s, false
	}
	if r.IntN(2) == 0 {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = Open(t, dir)
	}
	return s, true
}

// CorruptWAL writes 30 checkpoints into a new store in dir and flips 64
// bytes a third of the way into the write-ahead log that holds them: a
// damaged record with intact ones after it, which state.Open refuses
// (state.ErrCorrupt) unless told to discard it.
func CorruptWAL(t testing.TB, dir string) {
	t.Helper()
	s, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		b := s.NewBatch()
		b.Set(state.NewKey(state.NSMeta).Uint64(uint64(i)), bytes.Repeat([]byte{'v'}, 500))
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(bytes.TrimRight(data, "\x00")); n > 30*500 {
			for i := n / 3; i < n/3+64; i++ {
				data[i] ^= 0xFF
			}
			if err := os.WriteFile(l, data, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no log holds the checkpoints: %v", logs)
}
