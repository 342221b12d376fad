package state

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"
)

// failingFS returns the operating system's file system, whose writes
// (creating, writing, syncing, renaming files) fail with errno once arm is
// called: a disk that fills up, goes read-only or fails.
func failingFS(errno syscall.Errno) (fs vfs.FS, arm func()) {
	var armed atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if armed.Load() && op.OpKind() == errorfs.OpKindWrite {
			return &os.PathError{Op: "write", Path: path, Err: errno}
		}
		return nil
	})
	return errorfs.Wrap(vfs.Default, inj), func() { armed.Store(true) }
}

// A commit that Pebble cannot write (full disk, read-only file system, I/O
// error) returns an error naming the directory and the cause, without
// panicking or exiting; the store then refuses every operation; what was
// committed before is on disk, the failed batch is not.
func TestCommitFailsOnDiskErrors(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EROFS, syscall.EIO} {
		t.Run(errno.Error(), func(t *testing.T) {
			dir := t.TempDir()
			fs, arm := failingFS(errno)
			s, err := Open(dir, Options{FS: fs})
			if err != nil {
				t.Fatal(err)
			}
			before, after := NewKey(NSUser).Text("before"), NewKey(NSUser).Text("after")
			b := s.NewBatch()
			b.Set(before, []byte("1"))
			if err := b.Commit(); err != nil {
				t.Fatal(err)
			}
			arm()
			b.Set(after, []byte("2"))
			err = b.Commit()
			t.Logf("Commit: %v", err)
			if !errors.Is(err, ErrFailed) || !errors.Is(err, errno) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("Commit on a failing disk: %v, want ErrFailed naming %s and %q", err, dir, errno)
			}
			if _, _, err := s.Get(before); !errors.Is(err, ErrFailed) {
				t.Errorf("Get after the failure: %v, want ErrFailed", err)
			}
			if err := s.Err(); !errors.Is(err, errno) {
				t.Errorf("Err: %v, want %q", err, errno)
			}
			_ = s.Close() // may fail: the log cannot be written
			s = open(t, dir)
			defer s.Close()
			got := scan(t, s, NewKey(NSUser))
			if want := map[string]string{string(before): "1"}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("after reopening: %q, want only the batch committed before the failure", got)
			}
		})
	}
}
