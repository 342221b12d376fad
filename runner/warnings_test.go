package runner

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

func countWindowPipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "events").
		Apply("pairs", dsl.Reduce(dsl.TumblingCountWindow(2), func(b []byte) string { return string(b) }, dsl.Count[[]byte]())).
		Apply("ser", dsl.Serializer[dsl.Windowed[string, int]]()).
		Sink("out", dsl.StreamSink("pairs"))
}

// warningsOf validates yaml against g and returns the start-up warnings
// of a run on adapter, as "step: key,key" lines ("-" for no step).
func warningsOf(t *testing.T, g *dsl.Graph, yaml, adapter string) []string {
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
	var out []string
	for _, w := range startupWarnings(g, cfg, seg, adapter) {
		step := w.Step
		if step == "" {
			step = "-"
		}
		out = append(out, step+": "+strings.Join(w.Keys, ","))
	}
	return out
}

// Keys without effect are warned about at start, once each, naming the
// step and the keys; keys with an effect are not.
func TestStartupWarnings(t *testing.T) {
	seed := seedPipeline().MustBuild()
	windowed := windowedPipeline().MustBuild()
	for _, tc := range []struct {
		name    string
		g       *dsl.Graph
		adapter string
		yaml    string
		want    []string
	}{{
		name: "nothing to warn about",
		g:    seed, adapter: AdapterLocal,
		yaml: `env: {}
metrics: {type: log, period_sec: 5}
pipeline:
  segments:
    - steps_config:
        myinput: {parallelism: 2, commit_interval_ms: 10, starts_segment: false}
        mymap: {parallelism: {multi_process: {processes: 2}}}
`,
	}, {
		name: "sentry compatibility keys",
		g:    seed, adapter: AdapterLocal,
		yaml: `env: {team: ingest, region: eu}
metrics: {type: datadog, host: dd, port: 8125, tags: {a: b}}
pipeline:
  segments:
    - parallelism: 3
      steps_config:
        myinput: {starts_segment: true}
        mymap:
          starts_segment: true
          parallelism: {multi_process: {processes: 4, batch_size: 1000, batch_time: 0.2, input_block_size: 1, output_block_size: 1, max_input_block_size: 2, max_output_block_size: 2}}
`,
		want: []string{
			"-: env.region,env.team",
			"-: parallelism",
			"myinput: starts_segment",
			"mymap: starts_segment",
			"mymap: parallelism.multi_process.batch_size,parallelism.multi_process.batch_time,parallelism.multi_process.input_block_size," +
				"parallelism.multi_process.max_input_block_size,parallelism.multi_process.max_output_block_size,parallelism.multi_process.output_block_size",
		},
	}, {
		name: "bundled runner keys on a Beam runner",
		g:    seed, adapter: AdapterBeam,
		yaml: `pipeline:
  segments:
    - steps_config:
        myinput: {parallelism: 2, commit_interval_ms: 10, commit_records: 5, changelog_replication_factor: 1, watermark_idle_ms: 5, dlq: {}}
        myfilter: {parallelism: 3, on_invalid: skip}
`,
		want: []string{
			"myinput: changelog_replication_factor,commit_interval_ms,commit_records,parallelism",
			"myfilter: parallelism",
		},
	}, {
		name: "late data to the dlq on a Beam runner",
		g:    windowed, adapter: AdapterBeam,
		yaml: `pipeline:
  segments:
    - steps_config:
        in: {dlq: {}}
        count: {on_late: dlq}
`,
		want: []string{"count: on_late"},
	}, {
		name: "late data dropped on a Beam runner",
		g:    windowed, adapter: AdapterBeam,
		yaml: "pipeline:\n  segments:\n    - steps_config:\n        count: {on_late: drop}\n",
	}, {
		name: "late data of a count window",
		g:    countWindowPipeline().MustBuild(), adapter: AdapterLocal,
		yaml: "pipeline:\n  segments:\n    - steps_config:\n        in: {dlq: {}}\n        pairs: {on_late: dlq}\n",
		want: []string{"pairs: on_late"},
	}, {
		name: "late data of a count window on a Beam runner",
		g:    countWindowPipeline().MustBuild(), adapter: AdapterBeam,
		yaml: "pipeline:\n  segments:\n    - steps_config:\n        in: {dlq: {}}\n        pairs: {on_late: dlq}\n",
		want: []string{"pairs: on_late"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := warningsOf(t, tc.g, tc.yaml, tc.adapter); !slices.Equal(got, tc.want) {
				t.Errorf("warnings\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test at once.
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

// Run logs each start-up warning once, as a warning, before it runs
// anything (here it stops at the topic check: there is no broker).
func TestRunLogsStartupWarningsOnce(t *testing.T) {
	cfg, err := config.Parse([]byte(`env: {team: ingest}
pipeline:
  segments:
    - steps_config:
        myinput: {bootstrap_servers: ["127.0.0.1:1"]}
        mymap: {parallelism: {multi_process: {processes: 2, batch_time: 0.5}}}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the topic check fails at once
	_ = Run(ctx, seedPipeline().MustBuild(), Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, want := range []string{
		`level=WARN msg="env has no effect`,
		`level=WARN msg="of parallelism.multi_process only processes has an effect`,
	} {
		if n := strings.Count(logs.String(), want); n != 1 {
			t.Errorf("%q logged %d times, want once:\n%s", want, n, logs.String())
		}
	}
	if want := "step=mymap keys=parallelism.multi_process.batch_time"; !strings.Contains(logs.String(), want) {
		t.Errorf("the warning does not name the step and key (%s):\n%s", want, logs.String())
	}
}
