package state

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
)

// ErrFailed is matched by every error of a store that has failed: Pebble
// met an error it cannot go on from (a write-ahead log or MANIFEST write
// that failed on a full disk, a read-only file system or an I/O error) or
// a background flush or compaction failed. The store then refuses every
// read and commit, returning the first such error: its state on disk is
// that of the last commit that returned nil.
var ErrFailed = errors.New("state: store failed")

// fault holds the first fatal error of a store's Pebble database.
//
// Pebble reports what it cannot go on from to its Logger's Fatalf and
// expects it not to return; its default logger exits the process. A
// library may not, so Fatalf records the error and returns: each
// operation of the Store checks the record before and after calling
// Pebble, so none that Pebble could not finish is reported as done (a
// failed commit, in particular, is followed by Fatalf before Pebble's
// Commit returns nil).
type fault struct {
	dir string
	log *slog.Logger
	err atomic.Pointer[error]
}

// set records err as the store's failure, unless one is recorded.
func (f *fault) set(err error) {
	err = fmt.Errorf("%w: %s: %w", ErrFailed, f.dir, err)
	if f.err.CompareAndSwap(nil, &err) {
		f.log.Error("state: the store failed; the run must stop", "dir", f.dir, "error", err)
	}
}

// get returns the recorded failure, or nil.
func (f *fault) get() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// listener turns Pebble's background errors into the store's failure and
// warns of slow disk writes.
func (f *fault) listener() *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			if errors.Is(err, pebble.ErrCancelledCompaction) {
				return // retried by Pebble
			}
			f.set(fmt.Errorf("pebble: background error: %w", err))
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			f.log.Warn("state: slow disk write", "dir", f.dir, "file", info.Path, "op", info.OpType.String(), "duration", info.Duration)
		},
	}
}

// pebbleLogger sends Pebble's log lines to slog at debug level, its errors
// at error level, and records its fatal ones as the store's failure (see
// fault) instead of exiting.
type pebbleLogger struct {
	l *slog.Logger
	f *fault
}

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !strings.HasPrefix(msg, "pebble") {
		msg = "pebble: " + msg
	}
	p.f.set(&fatalError{msg: msg, args: args})
}

// fatalError is what Pebble told Fatalf; it unwraps to the errors among
// the arguments (Pebble formats its cause with %v), so that errors.Is
// finds syscall.ENOSPC and the like.
type fatalError struct {
	msg  string
	args []any
}

func (e *fatalError) Error() string { return e.msg }

func (e *fatalError) Unwrap() []error {
	var errs []error
	for _, a := range e.args {
		if err, ok := a.(error); ok {
			errs = append(errs, err)
		}
	}
	return errs
}
