package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

func TestMain(m *testing.M) { ptest.Main(m) }

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
		{[]string{"--config", cfg, "--adapter", "local"}, "local adapter"},
		{[]string{"--config", cfg, "--adapter", "flink"}, `unknown adapter "flink"`},
		{[]string{"--config", cfg, "--segment-id", "x"}, `--segment-id (or SEGMENT_ID) "x"`},
		{[]string{"--config", cfg, "--segment-id", "3"}, "segment"},
		{[]string{"--config", cfg, "--log-level", "loud"}, `--log-level "loud"`},
		{[]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, "missing.yaml"},
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
	var out bytes.Buffer
	g := seedPipeline().MustBuild()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var logs bytes.Buffer
	cfg, err := config.Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        myinput: {auto_offset_reset: earliest}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = Run(ctx, g, Options{
		Config:        cfg,
		Name:          "dev",
		PipelineID:    "dev-loop",
		DevBrokerAddr: "127.0.0.1:0",
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
		Dev: &DevOptions{
			Input:        [][]byte{[]byte(`{"type":"event","n":1}`), []byte(`{"type":"other"}`), []byte(`{"type":"event"}`)},
			Output:       &out,
			ExitWhenDone: true,
		},
	})
	if err != nil {
		t.Fatalf("run: %v\nlogs:\n%s", err, logs.String())
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(got) != 2 || got[0] != `transformed-events: {"type":"event"}` || got[1] != got[0] {
		t.Errorf("output:\n%s", out.String())
	}
	if !strings.Contains(logs.String(), "EMBEDDED development Kafka broker") {
		t.Errorf("embedded broker not announced:\n%s", logs.String())
	}
}
