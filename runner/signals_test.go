package runner

import (
	"os"
	"syscall"
	"testing"
)

// A stop signal caught while the program started (Main notes it before
// anything else) cancels the run's context from the start.
func TestStopSignalDuringStartCancelsTheRun(t *testing.T) {
	ctx, stop := runContext()
	if ctx.Err() != nil {
		t.Fatal("the run's context is cancelled without a signal")
	}
	stop()

	startSignals <- os.Signal(syscall.SIGTERM)
	ctx, stop = runContext()
	defer stop()
	if ctx.Err() == nil {
		t.Error("a SIGTERM caught during start-up left the run's context live")
	}
}
