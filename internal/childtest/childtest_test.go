package childtest

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain runs the children of TestTerminate: "clean" ends with exit
// code 0 on SIGTERM, "deaf" ignores it.
func TestMain(m *testing.M) {
	if spec, ok := Spec(); ok {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		fmt.Println("ready")
		for range sig {
			if spec == "clean" {
				os.Exit(0)
			}
		}
	}
	os.Exit(m.Run())
}

// Terminate lets a child that handles SIGTERM end by itself, and kills
// one that does not once the timeout has passed.
func TestTerminate(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		timeout time.Duration
		ended   bool
		code    int
	}{
		{"clean", time.Minute, true, 0},
		{"deaf", 300 * time.Millisecond, false, -1},
	} {
		c := Start(t, tc.spec)
		// Until the handler is installed, SIGTERM would kill the child.
		for !strings.Contains(c.Stdout(), "ready") {
			if c.Exited() {
				t.Fatalf("%s: child ended before it was ready:\n%s", tc.spec, c.Stderr())
			}
			time.Sleep(10 * time.Millisecond)
		}
		if ended := c.Terminate(t, tc.timeout); ended != tc.ended {
			t.Errorf("%s: Terminate = %v, want %v", tc.spec, ended, tc.ended)
		}
		if code := c.ExitCode(); code != tc.code {
			t.Errorf("%s: exit code %d, want %d", tc.spec, code, tc.code)
		}
	}
}

// raceTop is a race whose racing write is in this module's code.
const raceTop = `WARNING: DATA RACE
Write at 0x00c0001 by goroutine 7:
  github.com/streams-dev/streams/beamtranslate.(*stepFn).ProcessElement()
      /x/dofns.go:1 +0x1

Previous read at 0x00c0001 by goroutine 6:
  github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec.(*DataSink).ProcessElement()
      /y/datasink.go:2 +0x2
`

// raceDeep is a race whose accesses both have Beam's code on top, one of
// them called by this module's code: our call caused it.
const raceDeep = `WARNING: DATA RACE
Read at 0x00c0002 by goroutine 9:
  github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec.(*Plan).Down()
      /z/plan.go:3 +0x3
  github.com/streams-dev/streams/localrunner.(*worker).finish()
      /x/worker.go:1 +0x1

Previous write at 0x00c0002 by goroutine 8:
  github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec.(*Plan).Execute()
      /z/plan.go:4 +0x4

Goroutine 9 (running) created at:
  github.com/streams-dev/streams/localrunner.(*Runner).Run()
      /x/runner.go:5 +0x5
`

// raceBeam is a race inside Beam's harness: this module only started the
// goroutines (it is in the creation stacks, not in the accesses).
const raceBeam = `WARNING: DATA RACE
Read at 0x00c0003 by goroutine 11:
  github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/harness.(*control).send()
      /z/harness.go:3 +0x3

Previous write at 0x00c0003 by goroutine 10:
  google.golang.org/grpc.(*Server).close()
      /g/server.go:4 +0x4

Goroutine 11 (running) created at:
  github.com/streams-dev/streams/runner.Run()
      /x/run.go:6 +0x6

Goroutine 10 (finished) created at:
  github.com/streams-dev/streams/runner.Run()
      /x/run.go:7 +0x7
`

func TestRaces(t *testing.T) {
	const sep = "==================\n"
	stderr := "noise\n" + sep + raceTop + sep + sep + raceDeep + sep + sep + raceBeam + sep + "more noise\n"
	ours, theirs := Races(stderr)
	if len(ours) != 2 || len(theirs) != 1 {
		t.Fatalf("ours %d, theirs %d; want 2 and 1:\nours: %q\ntheirs: %q", len(ours), len(theirs), ours, theirs)
	}
	for i, want := range []string{"beamtranslate.(*stepFn)", "localrunner.(*worker).finish"} {
		if !strings.Contains(ours[i], want) {
			t.Errorf("ours[%d] is not the race with %s:\n%s", i, want, ours[i])
		}
	}
	if !strings.Contains(theirs[0], "harness.(*control).send") {
		t.Errorf("theirs[0] is not the harness race:\n%s", theirs[0])
	}
}
