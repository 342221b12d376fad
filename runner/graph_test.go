package runner

import (
	"bytes"
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streams-dev/streams/dsl"
)

// runGraph runs `<program> graph args...` on p. It also reports whether
// the run's flag set was parsed: the graph command must not go down the
// run's path (flags, beam.Init, Run).
func runGraph(t *testing.T, p dsl.Pipeline, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	code = main(p, fs, append([]string{"graph"}, args...), &out, &errb)
	if fs.Parsed() {
		t.Errorf("graph %v parsed the run's flags", args)
	}
	return code, out.String(), errb.String()
}

func TestGraphMermaid(t *testing.T) {
	code, stdout, stderr := runGraph(t, seedPipeline(), "--format", "mermaid", "-n", "seed")
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	want := `---
title: "seed"
---
flowchart LR
  n0>"myinput<br/>source<br/>topic: events"]
  n1["mymap<br/>map"]
  n2["myfilter<br/>filter"]
  n3["serializer<br/>serializer"]
  n4[("myoutput<br/>sink<br/>topic: transformed-events")]
  n0 --> n1
  n1 --> n2
  n2 --> n3
  n3 --> n4
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
}

// DOT is the default format. No --config is needed, and no title is
// drawn without -n.
func TestGraphDOTIsTheDefault(t *testing.T) {
	code, stdout, stderr := runGraph(t, seedPipeline())
	if code != ExitOK || stderr != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	var want bytes.Buffer
	if err := seedPipeline().MustBuild().WriteDOT(&want); err != nil {
		t.Fatal(err)
	}
	if stdout != want.String() {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want.String())
	}
}

// With --config, the graph shows the topics the config gives the source
// and the sinks, as a run would use them, whichever segment it names (a
// segment's process binds every step, configured in whichever segment
// holds it). The config names no brokers, so a run would start a
// development broker: the graph command starts nothing and says nothing
// on stderr.
func TestGraphConfigTopics(t *testing.T) {
	cfg := writeConfig(t, `pipeline:
  segments:
    - steps_config:
        myinput:
          topic: raw-events
          auto_offset_reset: earliest
          dlq: {topic: bad}
    - steps_config:
        mymap: {starts_segment: true}
        myoutput: {topic: cooked}
`)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--config", cfg}, []string{`topic: raw-events"`, `topic: cooked"`}},
		{[]string{"--config", cfg, "--segment-id", "1", "--format", "dot"}, []string{`topic: raw-events"`, `topic: cooked"`}},
		{[]string{"--config", cfg, "--segment-id", "1", "--format", "mermaid"}, []string{`topic: raw-events"]`, `topic: cooked")]`}},
		// Sentry Streams' short forms.
		{[]string{"-c", cfg, "-s", "1", "--format", "mermaid"}, []string{`topic: raw-events"]`, `topic: cooked")]`}},
	} {
		code, stdout, stderr := runGraph(t, seedPipeline(), tc.args...)
		if code != ExitOK || stderr != "" {
			t.Errorf("%v: exit %d, stderr:\n%s", tc.args, code, stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%v: stdout lacks %q:\n%s", tc.args, w, stdout)
			}
		}
	}

	t.Setenv("SEGMENT_ID", "2")
	if code, _, stderr := runGraph(t, seedPipeline(), "--config", cfg); code == ExitOK || !strings.Contains(stderr, "segment") {
		t.Errorf("SEGMENT_ID=2 of 2 segments: exit %d, stderr:\n%s", code, stderr)
	}
}

func TestGraphUsageErrors(t *testing.T) {
	cfg := writeConfig(t, "pipeline:\n  segments:\n    - steps_config: {}\n")
	bad := writeConfig(t, "pipeline:\n  segments:\n    - steps_config:\n        mysink: {topic: x}\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "svg"}, `--format "svg": want dot or mermaid`},
		{[]string{"--format", "svg", "extra"}, `unexpected argument "extra"`},
		{[]string{"--adapter", "local"}, "flag provided but not defined: -adapter"},
		{[]string{"--segment-id", "1"}, "--segment-id applies to a --config FILE"},
		{[]string{"--config", cfg, "--segment-id", "x"}, `--segment-id (or SEGMENT_ID) "x"`},
		{[]string{"--config", cfg, "--segment-id", "3"}, "segment 3 does not exist"},
		{[]string{"-c", cfg, "-s", "3"}, "segment 3 does not exist"},
		{[]string{"-s", "1"}, "--segment-id applies to a --config FILE"},
		{[]string{"--config", bad}, `no step named "mysink" in the pipeline`},
		{[]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, "missing.yaml"},
	} {
		code, stdout, stderr := runGraph(t, seedPipeline(), tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, stdout, stderr, ExitUsage, tc.want)
		}
	}

	dup := dsl.StreamingSource("in", "events").
		Apply("in", dsl.Filter(func([]byte) bool { return true })).
		Sink("out", dsl.StreamSink("out"))
	if code, _, stderr := runGraph(t, dup); code != ExitUsage || !strings.Contains(stderr, `duplicate step name "in"`) {
		t.Errorf("invalid pipeline: exit %d, stderr %q", code, stderr)
	}

	if code, _, stderr := runGraph(t, seedPipeline(), "-h"); code != ExitOK || !strings.Contains(stderr, "graph [--format dot|mermaid]") {
		t.Errorf("-h: exit %d, stderr %q", code, stderr)
	}
}
