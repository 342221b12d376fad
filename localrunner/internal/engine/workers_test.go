package engine

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestWorkersKeepGoroutines runs tasks one after another on one kept
// goroutine, and several at once on as many, and leaves none behind.
func TestWorkersKeepGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	w := newWorkers()
	done := make(chan struct{})
	for range 100 {
		w.run(func() { done <- struct{}{} })
		<-done
	}
	// The single worker may not be back at its receive yet: at most one
	// more, never one per task.
	if n := runtime.NumGoroutine() - before; n > 2 {
		t.Fatalf("100 tasks in turn left %d goroutines, want at most 2", n)
	}
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 4 {
		wg.Add(1)
		w.run(func() { wg.Done(); <-release })
	}
	wg.Wait() // four tasks running at once: none waited for another
	close(release)
	w.stop()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left after stop", runtime.NumGoroutine()-before)
		}
		time.Sleep(time.Millisecond)
	}
}
