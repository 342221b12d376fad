package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/childtest"
	"github.com/streams-dev/streams/localrunner"
)

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	if spec, ok := childtest.Spec(); ok {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

// runChild runs a test pipeline in a child process (see package
// childtest for why pipelines do not run in the test process).
func runChild(spec string) int {
	switch spec {
	case "dev-loop":
		return runDevBrokerChild("127.0.0.1:0")
	}
	if adapter, ok := strings.CutPrefix(spec, "stop-policy:"); ok {
		// No dlq and no on_invalid: the default policy stops the pipeline
		// at the first invalid message.
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cfg, err := config.Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        myinput: {auto_offset_reset: earliest}\n"), nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		err = Run(ctx, seedPipeline().MustBuild(), Options{
			Config: cfg, Adapter: adapter, DevBrokerAddr: "127.0.0.1:0",
			Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
			Dev:    &DevOptions{Input: [][]byte{[]byte(`{"type":"event"}`), []byte(`not json`)}},
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "run:", err)
			return 1
		}
		return 0
	}
	if rest, ok := strings.CutPrefix(spec, blobChildPrefix); ok {
		return runBlobChild(rest)
	}
	if rest, ok := strings.CutPrefix(spec, codecsChildPrefix); ok {
		return runCodecsChild(rest)
	}
	if adapter, ok := strings.CutPrefix(spec, sinkCodecChildPrefix); ok {
		return runSinkCodecChild(adapter)
	}
	if wait, ok := strings.CutPrefix(spec, batchChildPrefix); ok {
		return runBatchChild(wait)
	}
	if spec == windowChildPrefix {
		return runWindowChild()
	}
	if addr, ok := strings.CutPrefix(spec, devBrokerChildPrefix); ok {
		return runDevBrokerChild(addr)
	}
	if raw, ok := strings.CutPrefix(spec, lateChildPrefix); ok {
		return runLateChild(raw)
	}
	if addr, ok := strings.CutPrefix(spec, sinksChildPrefix); ok {
		return runSinksChild(addr)
	}
	if raw, ok := strings.CutPrefix(spec, parChildPrefix); ok {
		return runParChild(raw)
	}
	if dsn, ok := strings.CutPrefix(spec, sentryChildPrefix); ok {
		return runSentryChild(dsn)
	}
	if code, ok := runJobAPIChild(spec); ok {
		return code
	}
	if addr, ok := strings.CutPrefix(spec, drainChildPrefix); ok {
		return runDrainChild(addr)
	}
	if strings.HasPrefix(spec, observeChildPrefix) {
		return runObserveChild(spec)
	}
	fmt.Fprintln(os.Stderr, "unknown child spec", spec)
	return 2
}

type event struct {
	Type string `json:"type"`
}

func seedPipeline() dsl.Pipeline {
	return dsl.StreamingSource("myinput", "events").
		Apply("mymap", dsl.Map(func(b []byte) (event, error) {
			var e event
			err := json.Unmarshal(b, &e)
			return e, err
		})).
		Apply("myfilter", dsl.Filter(func(e event) bool { return e.Type == "event" })).
		Apply("serializer", dsl.Serializer[event]()).
		Sink("myoutput", dsl.StreamSink("transformed-events"))
}

func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	code = main(seedPipeline(), fs, args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A config with an unknown step, a missing envvar and a bad type gives one
// error listing all three, with their places, and exit code 2.
func TestMainReportsEveryConfigProblem(t *testing.T) {
	os.Unsetenv("STREAMS_TEST_UNSET_VAR")
	cfg := writeConfig(t, `env: {}
pipeline:
  segments:
    - steps_config:
        myinput:
          consumer_group: "${envvar:STREAMS_TEST_UNSET_VAR}"
          auto_offset_reset: earliest
        myoutput:
          topic: out
        mysink:
          bootstrap_servers: ["127.0.0.1:9092"]
        myfilter:
          parallelism: four
`)
	code, _, stderr := runMain(t, "--config", cfg)
	if code != ExitUsage {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, ExitUsage, stderr)
	}
	for _, want := range []string{
		"config.yaml:6:27: pipeline.segments[0].steps_config.myinput.consumer_group: environment variable STREAMS_TEST_UNSET_VAR",
		"config.yaml:10:9: pipeline.segments[0].steps_config.mysink",
		"config.yaml:13:24: pipeline.segments[0].steps_config.myfilter.parallelism",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestMainUsageErrors(t *testing.T) {
	cfg := writeConfig(t, "pipeline:\n  segments:\n    - steps_config: {}\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--config FILE is required"},
		{[]string{"--config", cfg, "--adapter", "flink"}, `unknown adapter "flink"`},
		{[]string{"--config", cfg, "--segment-id", "x"}, `--segment-id (or SEGMENT_ID) "x"`},
		{[]string{"--config", cfg, "--segment-id", "3"}, "segment"},
		{[]string{"--config", cfg, "--log-level", "loud"}, `--log-level "loud"`},
		{[]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, "missing.yaml"},
		{[]string{"--config", "/dev/zero"}, "config: not a regular file: /dev/zero is a character device"},
		{[]string{"--config", cfg, "--dev-input", "/dev/zero"}, "--dev-input /dev/zero: not a regular file"},
	} {
		code, _, stderr := runMain(t, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, ExitUsage, tc.want)
		}
	}
}

// With no brokers configured, Run embeds a development broker, and the
// development options feed input, print output and stop when done: what
// `make run` does.
func TestRunEmbeddedBrokerDevLoop(t *testing.T) {
	child := childtest.Start(t, "dev-loop")
	if !child.Wait(2 * time.Minute) {
		t.Fatal("the dev loop did not stop by itself")
	}
	if code := child.ExitCode(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, child.Stderr())
	}
	got := strings.Split(strings.TrimSpace(child.Stdout()), "\n")
	if len(got) != 2 || got[0] != `transformed-events: {"type":"event"}` || got[1] != got[0] {
		t.Errorf("output:\n%s", child.Stdout())
	}
	if !strings.Contains(child.Stderr(), "EMBEDDED development Kafka broker") {
		t.Errorf("embedded broker not announced:\n%s", child.Stderr())
	}
}

// Without a dlq, a rejected message stops the pipeline with an error that
// names the step, the message's position and what to configure.
func TestInvalidMessageStopsWithoutDLQ(t *testing.T) {
	for _, adapter := range []string{AdapterBeam, AdapterLocal} {
		t.Run(adapter, func(t *testing.T) {
			t.Parallel()
			child := childtest.Start(t, "stop-policy:"+adapter)
			if !child.Wait(2 * time.Minute) {
				t.Fatal("the pipeline did not stop on the invalid message")
			}
			if code := child.ExitCode(); code != 1 {
				t.Fatalf("exit code %d, want 1:\n%s", code, child.Stderr())
			}
			for _, want := range []string{"step mymap rejected the message at events/", ": step mymap: invalid message: invalid character", "configure a dlq on the source step", "on_invalid: skip on step mymap"} {
				if !strings.Contains(child.Stderr(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, child.Stderr())
				}
			}
		})
	}
}

func TestResolveBindingsAndBundledRunnerOptions(t *testing.T) {
	d := mustResolve(t, seedPipeline().MustBuild(), `pipeline:
  segments:
    - steps_config:
        myinput:
          bootstrap_servers: ["k1:9092"]
          topic: raw-events
          commit_interval_ms: 250
          commit_records: 5
          parallelism: 3
          watermark_max_skew_ms: 250
          watermark_idle_ms: 2000
          dlq: {topic: bad}
        mymap: {on_invalid: skip}
        myoutput: {topic: cooked}
`)
	b := d.bindings
	if b.Source.Topic != "raw-events" || b.Source.Group != "pipeline-myinput" || b.Source.StartOffset != "latest" ||
		b.Source.MaxSkew != 250*time.Millisecond || b.Source.IdleDelay != 2*time.Second {
		t.Errorf("source binding %+v", b.Source)
	}
	if b.Source.DLQ == nil || b.Source.DLQ.Topic != "bad" || b.Source.DLQ.Client.Brokers[0] != "k1:9092" {
		t.Errorf("dlq binding %+v", b.Source.DLQ)
	}
	if sb := b.Sinks["myoutput"]; sb.Topic != "cooked" || sb.Client.Brokers[0] != "k1:9092" {
		t.Errorf("sink binding %+v", sb)
	}
	if len(b.SkipInvalid) != 1 || b.SkipInvalid[0] != "mymap" {
		t.Errorf("skip invalid %v", b.SkipInvalid)
	}
	if d.needsDevBroker || len(d.local) != 2 {
		t.Errorf("dev broker %v, %d bundled-runner options (want commit policy and parallelism)", d.needsDevBroker, len(d.local))
	}
	if _, err := localrunner.New(d.local...); err != nil {
		t.Errorf("options refused: %v", err)
	}
}

// The source's keys reach its binding: its group, where a new group
// starts, its watermark, and a dead-letter queue on another cluster.
func TestResolveSourceKeys(t *testing.T) {
	d := mustResolve(t, seedPipeline().MustBuild(), `pipeline:
  segments:
    - steps_config:
        myinput:
          bootstrap_servers: ["k1:9092"]
          consumer_group: ingest
          auto_offset_reset: earliest
          watermark_idle_wall_clock: true
          override_params: {client.id: src}
          dlq: {bootstrap_servers: "k9:9092,k10"}
`)
	src := d.bindings.Source
	if src.Group != "ingest" || src.StartOffset != "earliest" || !src.IdleWallClock {
		t.Errorf("source binding %+v", src)
	}
	if dlq := src.DLQ; dlq == nil || !slices.Equal(dlq.Client.Brokers, []string{"k9:9092", "k10"}) || len(dlq.Client.Properties) != 0 {
		t.Errorf("dlq binding %+v: want its own cluster, without the source's properties", dlq)
	}
}

// Every step's parallelism but the source's goes to the bundled runner
// as the step's (the source's bounds every bundle, as before).
func TestResolveStepParallelism(t *testing.T) {
	d := mustResolve(t, seedPipeline().MustBuild(), `pipeline:
  segments:
    - steps_config:
        myinput: {parallelism: 8}
        mymap: {parallelism: 4}
        serializer: {parallelism: {multi_process: {processes: 2, batch_size: 10}}}
        myoutput: {parallelism: 1}
`)
	if want := map[string]int{"mymap": 4, "serializer": 2, "myoutput": 1}; !maps.Equal(d.steps, want) {
		t.Errorf("step parallelism %v, want %v", d.steps, want)
	}
	if len(d.local) != 2 {
		t.Errorf("%d bundled-runner options, want the run's and the steps' parallelism", len(d.local))
	}
	if _, err := localrunner.New(d.local...); err != nil {
		t.Errorf("options refused: %v", err)
	}
}

func TestStateDir(t *testing.T) {
	stateless := seedPipeline().MustBuild()
	stateful := dsl.StreamingSource("in", "events").
		Apply("batch", dsl.Batch[[]byte](10, time.Second)).
		Apply("join", dsl.Map(func(b [][]byte) ([]byte, error) { return bytes.Join(b, nil), nil })).
		Sink("out", dsl.StreamSink("out")).MustBuild()
	def := filepath.Join(os.TempDir(), "streams-state", "my_pipe", "grp", "segment-2")
	for _, tc := range []struct {
		g    *dsl.Graph
		opt  string
		want string
	}{
		{stateless, "", ""},
		{stateless, "/data/x", ""},
		{stateful, "", def},
		{stateful, "/data/x", "/data/x"},
		{stateful, "none", ""},
	} {
		if got := stateDir(tc.g, Options{Name: "my/pipe", SegmentID: 2, StateDir: tc.opt}, "grp"); got != tc.want {
			t.Errorf("stateDir(stateful %v, %q) = %q, want %q", tc.g == stateful, tc.opt, got, tc.want)
		}
	}
}

// mustResolve parses a deployment config, validates it against g and
// resolves segment 0's deployment, failing t on any error.
func mustResolve(t *testing.T, g *dsl.Graph, yaml string) *deployment {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), nil, ConfigOption())
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(0, StepInfos(g)); err != nil {
		t.Fatal(err)
	}
	seg, err := cfg.Segment(0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := resolve(g, seg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
