package state

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const walBatches = 30

// writeWAL commits walBatches batches of one key each into a new store in
// dir and closes it: they are in its write-ahead log only (no flush). It
// returns the log's path and the length of what was written in it.
func writeWAL(t *testing.T, dir string) (string, int) {
	t.Helper()
	s := open(t, dir)
	for i := range walBatches {
		b := s.NewBatch()
		b.Set(NewKey(NSUser).Uint64(uint64(i)), bytes.Repeat([]byte{'v'}, 500))
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
		if n := len(bytes.TrimRight(data, "\x00")); n > walBatches*500 {
			return l, n
		}
	}
	t.Fatalf("no log holds the batches: %v", logs)
	return "", 0
}

// flip inverts n bytes of the file at path from offset off.
func flip(t *testing.T, path string, off, n int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := off; i < off+n; i++ {
		data[i] ^= 0xFF
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func countUser(t *testing.T, s *Store) int {
	t.Helper()
	return len(scan(t, s, NewKey(NSUser)))
}

// 64 flipped bytes in the middle of the write-ahead log: Open refuses,
// saying which file is corrupt where and how to recover, instead of
// dropping the batches after the damage; with DiscardCorrupt it warns and
// starts empty.
func TestCorruptWALRefused(t *testing.T) {
	dir := t.TempDir()
	wal, n := writeWAL(t, dir)
	flip(t, wal, n/3, 64)
	s, err := Open(dir, Options{})
	if err == nil {
		kept := countUser(t, s)
		s.Close()
		t.Fatalf("Open of a store with a corrupt log succeeded, keeping %d of %d batches", kept, walBatches)
	}
	t.Logf("Open: %v", err)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), wal) || !strings.Contains(err.Error(), "Delete the directory") {
		t.Fatalf("Open: %v, want ErrCorrupt naming %s and the way to recover", err, wal)
	}

	var logs bytes.Buffer
	s, err = Open(dir, Options{DiscardCorrupt: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open with DiscardCorrupt: %v", err)
	}
	defer s.Close()
	if got := countUser(t, s); got != 0 {
		t.Errorf("after discarding, %d keys remain, want an empty store", got)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "discarding the corrupt state") {
		t.Errorf("no warning of the discard in the log:\n%s", logs.String())
	}
}

// A last record cut short, as a write torn by a crash leaves it, is not
// corruption: Open drops that record alone.
func TestTornWALTailOpens(t *testing.T) {
	dir := t.TempDir()
	wal, n := writeWAL(t, dir)
	if err := os.Truncate(wal, int64(n-40)); err != nil { // the end of the last record and the log's end marker
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open with a torn last record: %v", err)
	}
	defer s.Close()
	if got := countUser(t, s); got != walBatches-1 {
		t.Errorf("%d batches after a torn last record, want %d", got, walBatches-1)
	}
}

// A record larger than a block, torn after its first blocks were written
// and before its last (kill -9 between two writes of the log), is a torn
// tail too: its first and middle chunks are intact, but no record starts
// after the damage. Seen in the crash test as a refusal to start.
func TestTornMultiBlockRecordOpens(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	for i := range 3 {
		b := s.NewBatch()
		b.Set(NewKey(NSUser).Uint64(uint64(i)), []byte("small"))
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	b := s.NewBatch()
	b.Set(NewKey(NSUser).Uint64(3), bytes.Repeat([]byte{'v'}, 100<<10)) // four blocks
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	var wal string
	var n int
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		if m := len(bytes.TrimRight(data, "\x00")); m > 100<<10 {
			wal, n = l, m
		}
	}
	if wal == "" {
		t.Fatalf("no log holds the large record: %v", logs)
	}
	if err := os.Truncate(wal, int64(n-2000)); err != nil { // into the large record's last block
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open with a large last record torn between blocks: %v", err)
	}
	defer s.Close()
	if got := countUser(t, s); got != 3 {
		t.Errorf("%d keys after the torn large record, want the 3 before it", got)
	}
}

func TestWALNumber(t *testing.T) {
	for name, want := range map[string]string{"000012.log": "12 true", "MANIFEST-000001": "0 false", "x.log": "0 false"} {
		n, ok := walNumber(name)
		if got := fmt.Sprint(n, " ", ok); got != want {
			t.Errorf("walNumber(%q) = %s, want %s", name, got, want)
		}
	}
}
