package state

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// ErrHeld is matched by Open's error when the directory is in use: another
// process, or another Store of this process, has it open.
var ErrHeld = errors.New("state: directory in use")

// lockDir takes the directory's lock (Pebble's LOCK file), which the
// store holds until it is closed. When another holds it, the error says
// who: another process (with its pid when the system tells it) or this
// one.
func lockDir(fs vfs.FS, dir string) (*pebble.Lock, error) {
	l, err := pebble.LockDirectory(dir, fs)
	if err == nil {
		return l, nil
	}
	// A POSIX lock held elsewhere fails with EAGAIN or EACCES; EACCES is
	// also a LOCK file this process may not open.
	pid := lockHolder(fs.PathJoin(dir, "LOCK"))
	switch {
	case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) && pid > 0:
		who := "another process"
		if pid > 0 {
			who = fmt.Sprintf("another process (pid %d)", pid)
		}
		return nil, fmt.Errorf("%w: %s is held by %s: one directory serves one run at a time; stop that process or give this one another directory: %w", ErrHeld, dir, who, err)
	case strings.Contains(err.Error(), "held by current process"):
		return nil, fmt.Errorf("%w: %s is already open in this process: one directory serves one run at a time: %w", ErrHeld, dir, err)
	}
	return nil, fmt.Errorf("state: locking %s: %w", dir, err)
}
