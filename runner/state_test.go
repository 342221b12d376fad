package runner

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/streams-dev/streams/devbroker"
	"github.com/streams-dev/streams/state"
	"github.com/streams-dev/streams/state/statetest"
)

// A state directory that cannot be used is a runtime failure, exit code 1
// (2 is for usage and config errors), with a message saying what is wrong
// with which directory and what to do: a corrupt write-ahead log names
// --discard-corrupt-state; a directory in use says so.
func TestMainStateDirProblemsExitOne(t *testing.T) {
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(1))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.CreateTopics(t.Context(), "clicks", "counts"); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf(`pipeline:
  segments:
    - steps_config:
        clicks: {bootstrap_servers: [%q], consumer_group: g, auto_offset_reset: earliest}
        out: {bootstrap_servers: [%q]}
`, b.Addr(), b.Addr()))
	run := func(dir string) (int, string) {
		var out, errb bytes.Buffer
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		code := main(latePipeline(lateSpec{}), fs, []string{"--config", cfg, "--state-dir", dir}, &out, &errb)
		return code, errb.String()
	}

	corrupt := t.TempDir()
	statetest.CorruptWAL(t, corrupt)
	code, stderr := run(corrupt)
	t.Logf("corrupt: exit %d: %s", code, stderr)
	if code != ExitFailed || !strings.Contains(stderr, "corrupt write-ahead log") || !strings.Contains(stderr, corrupt) || !strings.Contains(stderr, "--discard-corrupt-state") {
		t.Errorf("corrupt state directory: exit %d, want %d with the corrupt file and --discard-corrupt-state:\n%s", code, ExitFailed, stderr)
	}

	held := t.TempDir()
	s, err := state.Open(held, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	code, stderr = run(held)
	t.Logf("held: exit %d: %s", code, stderr)
	if code != ExitFailed || !strings.Contains(stderr, held+" is already open") {
		t.Errorf("state directory in use: exit %d, want %d saying it is in use:\n%s", code, ExitFailed, stderr)
	}
}
