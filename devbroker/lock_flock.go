//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package devbroker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFile is the file in a data dir that a broker holds an exclusive flock
// on; it contains the holder's process id. kfake ignores it.
const lockFile = "devbroker.lock"

// dirLock is a held data dir lock; the nil *dirLock stands for no lock.
type dirLock struct{ f *os.File }

// lockDataDir takes the lock on dir or fails with ErrDataDirInUse. The lock
// is released when the process exits, even by kill -9. The file is never
// removed: removing it would let a second broker lock a new file while a
// third still holds the old one.
func lockDataDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("devbroker: lock data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(holder))); err == nil {
				return nil, fmt.Errorf("%w: %s (held by pid %d)", ErrDataDirInUse, dir, pid)
			}
			return nil, fmt.Errorf("%w: %s", ErrDataDirInUse, dir)
		}
		return nil, fmt.Errorf("devbroker: lock data dir: %w", err)
	}
	// The pid is for the error message above only; failing to write it
	// costs nothing but that.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f}, nil
}

func (l *dirLock) release() error {
	if l == nil {
		return nil
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("devbroker: unlock data dir: %w", err)
	}
	return nil
}
