package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxFileSize is the largest deployment config file [Load] reads: 1 MiB,
// far more than any config needs (Sentry's largest are a few KiB).
const MaxFileSize = 1 << 20

var (
	// ErrNotRegularFile is returned (wrapped) by [Load] for a path that
	// is not a regular file: a device such as /dev/zero, a named pipe, a
	// socket or a directory. Reading those may never end.
	ErrNotRegularFile = errors.New("config: not a regular file")

	// ErrFileTooLarge is returned (wrapped) by [Load] for a file over
	// [MaxFileSize].
	ErrFileTooLarge = errors.New("config: file too large")
)

// readFile reads the config file at path, refusing anything but a
// regular file of at most MaxFileSize bytes. It checks the path before
// opening it (opening a named pipe blocks until a writer comes), the open
// file again (the path may have changed in between), and reads at most
// one byte past the limit (the file may grow).
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := checkFile(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := checkFile(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: %s grew past the limit of %d bytes while read", ErrFileTooLarge, path, MaxFileSize)
	}
	return data, nil
}

// checkFile refuses what fi describes unless it is a regular file of at
// most MaxFileSize bytes.
func checkFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is %s; a deployment config is a YAML file", ErrNotRegularFile, path, fileKind(fi.Mode()))
	}
	if fi.Size() > MaxFileSize {
		return fmt.Errorf("%w: %s has %d bytes, the limit is %d", ErrFileTooLarge, path, fi.Size(), MaxFileSize)
	}
	return nil
}

// fileKind names the kind of a file that is not a regular one.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.Type().String()
}
