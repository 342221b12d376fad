// Package childtest runs a test's Beam pipeline in a child copy of the
// test binary.
//
// Stopping a streaming Beam job inside the test process is not clean:
// cancelling prism.Execute's context only stops waiting for the job, and
// the in-process SDK harness of Beam v2.77 has data races on its shutdown
// path (a control response channel closed while a bundle sends on it; two
// goroutines in Recv on one data stream), which -race then blames on
// whichever test is running. So a test runs its pipeline in a child
// process, kills it (kill -9, as a crash would) when done, and reads the
// race reports the child printed: a report with this module's code on the
// stack of a racing access, at any depth, fails the test; one whose
// accesses are entirely in other modules' code is logged in full.
//
// The child side: the test binary's TestMain calls Spec, and when it
// returns a spec the binary is a child and runs that pipeline instead of
// the tests.
package childtest

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvSpec carries the child's spec.
const EnvSpec = "STREAMS_CHILDTEST_SPEC"

// Spec returns the spec a child was started with, and whether this
// process is a child. A child exits when its parent goes (its standard
// input closes), whatever the reason.
func Spec() (string, bool) {
	spec, ok := os.LookupEnv(EnvSpec)
	if ok {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			os.Exit(3)
		}()
	}
	return spec, ok
}

// Child is a running child process.
type Child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    syncBuffer
	errs   syncBuffer
	exited chan struct{}
	once   sync.Once
}

// Start runs the test binary as a child with spec; the child is killed
// when the test ends at the latest.
func Start(t testing.TB, spec string) *Child {
	t.Helper()
	c := &Child{exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), EnvSpec+"="+spec)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.errs
	var err error
	// Never written: the child exits when this pipe closes, so it cannot
	// outlive the test binary.
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() { c.Stop(t) })
	return c
}

// Done is closed when the child has ended.
func (c *Child) Done() <-chan struct{} { return c.exited }

// Exited reports whether the child has ended.
func (c *Child) Exited() bool {
	select {
	case <-c.exited:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the child to end by itself; false if it
// did not.
func (c *Child) Wait(timeout time.Duration) bool {
	select {
	case <-c.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// ExitCode is the child's exit code once it has ended (-1 if killed).
func (c *Child) ExitCode() int { <-c.exited; return c.cmd.ProcessState.ExitCode() }

// Stdout and Stderr are what the child printed so far.
func (c *Child) Stdout() string { return c.out.String() }
func (c *Child) Stderr() string { return c.errs.String() }

// Stop kills the child if it still runs and checks its race reports:
// one involving this module fails t. On failure it logs the child's
// output.
func (c *Child) Stop(t testing.TB) {
	t.Helper()
	c.once.Do(func() {
		_ = c.cmd.Process.Kill()
		<-c.exited
		ours, theirs := Races(c.errs.String())
		for _, r := range ours {
			t.Errorf("data race in the pipeline process:\n%s", r)
		}
		for _, r := range theirs {
			t.Logf("data race in other modules' code only, not failing the test:\n%s", r)
		}
		if t.Failed() {
			t.Logf("pipeline process output:\n%s\n%s", c.out.String(), c.errs.String())
		}
	})
}

// Terminate asks the child to stop cleanly (SIGTERM, as an orchestrator
// stops a process) and waits up to timeout for it to end, then kills it
// if it still runs and checks its race reports as Stop does. It reports
// whether the child ended by itself within timeout.
func (c *Child) Terminate(t testing.TB, timeout time.Duration) bool {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM) // fails only if it has ended
	ended := c.Wait(timeout)
	c.Stop(t)
	return ended
}

// Module is the import path prefix of this module's code.
const Module = "github.com/streams-dev/streams/"

// Races splits the race reports in a process's stderr into those where
// this module's code is on the stack of one of the racing accesses (any
// frame, not only the top one: a race inside Beam's code that our call
// caused is ours too) and the others, where the accesses are in other
// modules' code only (this module may still have started the goroutines).
func Races(stderr string) (ours, theirs []string) {
	const marker = "WARNING: DATA RACE"
	reports := strings.Split(stderr, marker)
	for _, r := range reports[1:] {
		r, _, _ = strings.Cut(r, "==================")
		r = marker + r
		if accessInModule(r) {
			ours = append(ours, r)
		} else {
			theirs = append(theirs, r)
		}
	}
	return ours, theirs
}

// accessInModule reports whether a frame of this module is in the stack
// of one of the report's accesses. A stack starts with a line "Read at
// 0x... by goroutine N:" (or Write, Previous read, ...) and runs to the
// next blank line; the stacks of "Goroutine N created at:" are not
// accesses.
func accessInModule(report string) bool {
	inAccess := false
	for _, l := range strings.Split(report, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case t == "" || strings.HasPrefix(t, "Goroutine "):
			inAccess = false
		case strings.Contains(t, " at 0x") && strings.Contains(t, " by "):
			inAccess = true
		case inAccess && strings.HasPrefix(t, Module):
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for the child's writers and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
