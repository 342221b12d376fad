package childtest

import "testing"

func TestRaces(t *testing.T) {
	stderr := `noise
==================
WARNING: DATA RACE
Write at 0x00c0001 by goroutine 7:
  github.com/streams-dev/streams/beamtranslate.(*stepFn).ProcessElement()
      /x/dofns.go:1 +0x1

Previous read at 0x00c0001 by goroutine 6:
  github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec.(*DataSink).ProcessElement()
      /y/datasink.go:2 +0x2
==================
==================
WARNING: DATA RACE
Read at 0x00c0002 by goroutine 9:
  github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/harness.(*control).send()
      /z/harness.go:3 +0x3
  github.com/streams-dev/streams/beamtranslate.(*stepFn).ProcessElement()
      /x/dofns.go:1 +0x1

Previous write at 0x00c0002 by goroutine 8:
  google.golang.org/grpc.(*Server).close()
      /g/server.go:4 +0x4

Goroutine 9 (running) created at:
  github.com/streams-dev/streams/runner.Run()
==================
`
	ours, theirs := Races(stderr)
	if len(ours) != 1 || len(theirs) != 1 {
		t.Fatalf("ours %d, theirs %d; want 1 and 1", len(ours), len(theirs))
	}
	if !accessInModule(ours[0]) || accessInModule(theirs[0]) {
		t.Errorf("misclassified:\nours: %s\ntheirs: %s", ours[0], theirs[0])
	}
}
