package config

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadRefusesUnreadable: Load fails at once, naming the file, on a
// device that never ends (/dev/zero), a FIFO no one writes to, and a
// file over MaxFileSize, rather than reading forever or without bound.
func TestLoadRefusesUnreadable(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	data := []byte("pipeline: {segments: [{}]}\n" + strings.Repeat("# padding\n", MaxFileSize/10+1))
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want error
		msg  string
	}{
		{"/dev/zero", ErrNotRegularFile, "config: not a regular file: /dev/zero is a character device; a deployment config is a YAML file"},
		{fifo, ErrNotRegularFile, "config: not a regular file: " + fifo + " is a named pipe; a deployment config is a YAML file"},
		{big, ErrFileTooLarge, "config: file too large: " + big + " has " + strconv.Itoa(len(data)) + " bytes, the limit is 1048576"},
	} {
		done := make(chan struct{})
		var c *Config
		var err error
		go func() {
			defer close(done)
			c, err = Load(tc.path)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Load(%s) has not returned after 10s", tc.path)
		}
		if c != nil || !errors.Is(err, tc.want) || err.Error() != tc.msg {
			t.Errorf("Load(%s) = %v, %v; want nil and %q (matching %v)", tc.path, c, err, tc.msg, tc.want)
		}
	}
}
