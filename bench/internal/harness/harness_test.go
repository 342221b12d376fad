package harness

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(c.xs); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

func TestRotate(t *testing.T) {
	xs := []string{"a", "b", "c"}
	for r, want := range [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}, {"a", "b", "c"}} {
		if got := Rotate(xs, r); !slices.Equal(got, want) {
			t.Errorf("Rotate(%v, %d) = %v, want %v", xs, r, got, want)
		}
	}
	if xs[0] != "a" {
		t.Errorf("Rotate modified its argument: %v", xs)
	}
}

func TestTreeCPUSeconds(t *testing.T) {
	self := os.Getpid()
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); {
		// Spend some CPU, so that the sums are not all zero.
	}
	// Own first: the process keeps spending CPU, so the tree read after
	// it can only be larger.
	own, err := CPUSeconds(self)
	if err != nil {
		t.Fatal(err)
	}
	one, err := TreeCPUSeconds(self)
	if err != nil {
		t.Fatal(err)
	}
	if one < own || one == 0 {
		t.Errorf("TreeCPUSeconds(self) = %v, CPUSeconds(self) = %v", one, own)
	}
	// The same process twice counts twice: the sum is over the roots.
	two, err := TreeCPUSeconds(self, self)
	if err != nil {
		t.Fatal(err)
	}
	if two < 2*own {
		t.Errorf("TreeCPUSeconds(self, self) = %v, want at least 2 × %v", two, own)
	}
	if _, err := TreeCPUSeconds(self, -1); err == nil {
		t.Error("TreeCPUSeconds of pid -1 succeeded")
	}
}

func TestCopyPrebuilt(t *testing.T) {
	dir := t.TempDir()
	e := &Env{bins: filepath.Join(dir, "bin"), log: io.Discard}
	if err := os.Mkdir(e.bins, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "old")
	if err := os.WriteFile(src, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.copyPrebuilt([]string{"./cmd/streams"}, map[string]string{"prog-before": src}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(e.Bin("prog-before"))
	if err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Errorf("copy: %v, %v", st, err)
	}
	if err := e.copyPrebuilt([]string{"./cmd/streams", "./bench/cmd/prog"}, map[string]string{"prog": src}); err == nil {
		t.Error("a prebuilt program took a built package's name")
	}
	if err := e.copyPrebuilt(nil, map[string]string{"missing": filepath.Join(dir, "none")}); err == nil {
		t.Error("copied a file that does not exist")
	}
}
