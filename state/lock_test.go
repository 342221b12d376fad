package state

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/internal/childtest"
)

// runHolder is the child of TestOpenHeldByAnotherProcess: it opens the
// store in dir, says so with its pid, and keeps it open until killed.
func runHolder(dir string) int {
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	fmt.Printf("holding pid=%d\n", os.Getpid())
	select {}
}

// A second process opening a directory in use is told that another
// process holds it, which directory, and that process's pid.
func TestOpenHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	child := childtest.Start(t, "hold:"+dir)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(child.Stdout(), "holding") {
		if child.Exited() || time.Now().After(deadline) {
			t.Fatalf("the holder did not open the store: %s", child.Stderr())
		}
		time.Sleep(10 * time.Millisecond)
	}
	var pid int
	fmt.Sscanf(child.Stdout(), "holding pid=%d", &pid)
	s, err := Open(dir, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a directory another process holds succeeded")
	}
	t.Logf("Open: %v", err)
	want := fmt.Sprintf("%s is held by another process (pid %d)", dir, pid)
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), want) {
		t.Errorf("Open: %v, want ErrHeld and %q", err, want)
	}
}

// In one process, the second Open says the directory is open already.
func TestOpenLocksTheDirectory(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s2, err := Open(dir, Options{})
	if err == nil {
		s2.Close()
		s.Close()
		t.Fatal("a second Open of the same directory succeeded")
	}
	if !errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), dir+" is already open in this process") {
		t.Errorf("second Open: %v, want ErrHeld saying the directory is open in this process", err)
	}
	s.Close()
	s3, err := Open(dir, Options{}) // Close released it
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s3.Close()
}
