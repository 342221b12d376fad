package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// envOf returns a lookupEnv over a fixed map, so that tests never see the
// process environment.
func envOf(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// problems returns err's problems one per line, as Error prints them, or
// nil for a nil error. It fails the test if err is not an *Error.
func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error is %T, not *config.Error: %v", err, err)
	}
	return strings.Split(e.Error(), "\n")
}

func equalLines(t *testing.T, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// simpleSteps are the steps of Sentry Streams' simple_map_filter example.
var simpleSteps = []StepInfo{
	{"myinput", Source}, {"parser", Parser}, {"myfilter", Filter},
	{"mymap", Map}, {"serializer", Serializer}, {"mysink", Sink},
}

// TestThreeProblems is the acceptance case: an unknown step, a missing
// environment variable and a bad type come back as one error that lists
// all three, each with its line, column and path.
func TestThreeProblems(t *testing.T) {
	src := `env: {}
pipeline:
  segments:
    - steps_config:
        myinput:
          bootstrap_servers: ["${envvar:BROKERS}"]
          parallelism: four
        mysnk:
          topic: out
`
	c, err := Parse([]byte(src), envOf(), WithComponents(kafkaSink))
	if c == nil {
		t.Fatalf("Parse returned no config: %v", err)
	}
	if err == nil {
		t.Fatal("Parse found no problem")
	}
	err = c.Validate(0, simpleSteps)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Validate: want *Error, got %T %v", err, err)
	}
	want := []Problem{
		{Line: 6, Column: 31, Path: "pipeline.segments[0].steps_config.myinput.bootstrap_servers[0]",
			Msg: "environment variable BROKERS is not set (referenced as ${envvar:BROKERS})", Err: ErrEnvVarNotSet},
		{Line: 7, Column: 24, Path: "pipeline.segments[0].steps_config.myinput.parallelism",
			Msg: `must be an integer or a mapping {multi_process: {processes: N, ...}}; got string "four"`},
		{Line: 8, Column: 9, Path: "pipeline.segments[0].steps_config.mysnk",
			Msg: `no step named "mysnk" in the pipeline (did you mean "mysink"?); its steps are: myinput, parser, myfilter, mymap, serializer, mysink`},
	}
	if !reflect.DeepEqual(e.Problems, want) {
		t.Fatalf("problems:\n got %+v\nwant %+v", e.Problems, want)
	}
	if !errors.Is(err, ErrEnvVarNotSet) {
		t.Error("errors.Is(err, ErrEnvVarNotSet) is false")
	}
	wantText := `6:31: pipeline.segments[0].steps_config.myinput.bootstrap_servers[0]: environment variable BROKERS is not set (referenced as ${envvar:BROKERS})
7:24: pipeline.segments[0].steps_config.myinput.parallelism: must be an integer or a mapping {multi_process: {processes: N, ...}}; got string "four"
8:9: pipeline.segments[0].steps_config.mysnk: no step named "mysnk" in the pipeline (did you mean "mysink"?); its steps are: myinput, parser, myfilter, mymap, serializer, mysink`
	if err.Error() != wantText {
		t.Errorf("Error():\n%s\nwant:\n%s", err, wantText)
	}
}

// TestSentryExamples loads Sentry Streams' own deployment configs (copied
// verbatim into testdata) and checks what they say.
func TestSentryExamples(t *testing.T) {
	env := envOf("MAX_POLL_INTERVAL_MS", "300000", "KAFKA_USER", "u", "KAFKA_PASSWORD", "p")
	local := []string{"127.0.0.1:9092"}
	tests := []struct {
		file  string
		steps []StepInfo
		check func(t *testing.T, c *Config)
	}{{
		file:  "simple_map_filter.yaml",
		steps: simpleSteps,
		check: func(t *testing.T, c *Config) {
			if !c.Pipeline.AdapterConfig.Arroyo.WriteHealthcheck {
				t.Error("write_healthcheck not read")
			}
			if c.Metrics.Type != MetricsDummy {
				t.Errorf("metrics type %q, want dummy by default", c.Metrics.Type)
			}
			seg := &c.Pipeline.Segments[0]
			if got := seg.StepNames; !reflect.DeepEqual(got, []string{"myinput", "mysink"}) {
				t.Errorf("StepNames = %v", got)
			}
			in := seg.Step("myinput", Source)
			want := StepConfig{
				StartsSegment: true, BootstrapServers: local,
				ConsumerGroup: "pipeline-myinput", AutoOffsetReset: OffsetLatest,
				Set: map[string]bool{"starts_segment": true, "bootstrap_servers": true},
			}
			if !reflect.DeepEqual(in, want) {
				t.Errorf("myinput:\n got %+v\nwant %+v", in, want)
			}
			if out := seg.Step("mysink", Sink); !reflect.DeepEqual(out.BootstrapServers, local) || out.ConsumerGroup != "" {
				t.Errorf("mysink = %+v", out)
			}
		},
	}, {
		file:  "parallel_processing.yaml",
		steps: []StepInfo{{"myinput", Source}, {"parser", Parser}, {"mymap", Map}, {"serializer", Serializer}, {"mysink", Sink}},
		check: func(t *testing.T, c *Config) {
			wantM := Metrics{Type: MetricsLog, Period: 5 * time.Second, Tags: map[string]string{"pipeline": "errors"},
				Set: map[string]bool{"type": true, "period_sec": true, "tags": true}}
			if !reflect.DeepEqual(c.Metrics, wantM) {
				t.Errorf("metrics:\n got %+v\nwant %+v", c.Metrics, wantM)
			}
			seg := &c.Pipeline.Segments[0]
			if p := seg.Steps["myinput"].Parallelism; p != 1 {
				t.Errorf("myinput parallelism %d, want 1", p)
			}
			parser := seg.Steps["parser"]
			wantMP := &MultiProcess{Processes: 4, BatchSize: 1000, BatchTime: 200 * time.Millisecond,
				Set: map[string]bool{"processes": true, "batch_size": true, "batch_time": true}}
			if parser.Parallelism != 4 || !reflect.DeepEqual(parser.MultiProcess, wantMP) || !parser.StartsSegment {
				t.Errorf("parser = %+v, multi_process %+v", parser, parser.MultiProcess)
			}
			if got := parser.MultiProcess.Ignored(); !reflect.DeepEqual(got, []string{"batch_size", "batch_time"}) {
				t.Errorf("multi_process keys without effect %v, want [batch_size batch_time]", got)
			}
			if !seg.Steps["mysink"].StartsSegment {
				t.Error("mysink starts_segment not read")
			}
		},
	}, {
		file:  "envvars.yaml",
		steps: simpleSteps,
		check: func(t *testing.T, c *Config) {
			got := c.Pipeline.Segments[0].Steps["myinput"].OverrideParams
			if want := map[string]string{"max.poll.interval.ms": "300000"}; !reflect.DeepEqual(got, want) {
				t.Errorf("override_params = %v, want %v", got, want)
			}
		},
	}, {
		file:  "dlq.yaml",
		steps: simpleSteps,
		check: func(t *testing.T, c *Config) {
			in := c.Pipeline.Segments[0].Step("myinput", Source)
			if in.ConsumerGroup != "my-consumer-group" {
				t.Errorf("consumer group %q", in.ConsumerGroup)
			}
			wantParams := map[string]string{
				"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
				"sasl.username": "u", "sasl.password": "p",
			}
			wantDLQ := &DLQConfig{Topic: "custom-dlq-topic", BootstrapServers: []string{"kafka-1:9093"}, OverrideParams: wantParams}
			if !reflect.DeepEqual(in.DLQ, wantDLQ) {
				t.Errorf("dlq:\n got %+v\nwant %+v", in.DLQ, wantDLQ)
			}
			if !reflect.DeepEqual(in.OverrideParams, wantParams) {
				t.Errorf("override_params = %v", in.OverrideParams)
			}
			if want := []string{"kafka-1:9093", "kafka-2:9093"}; !reflect.DeepEqual(in.BootstrapServers, want) {
				t.Errorf("bootstrap_servers = %v", in.BootstrapServers)
			}
		},
	}, {
		file:  "simple_batching.yaml",
		steps: []StepInfo{{"myinput", Source}, {"parser", Parser}, {"mybatch", Batch}, {"serializer", Serializer}, {"mysink", Sink}},
		check: func(t *testing.T, c *Config) {
			b := c.Pipeline.Segments[0].Steps["mybatch"]
			if b.BatchSize != 2 || b.BatchTimedelta != 20*time.Second {
				t.Errorf("mybatch = %+v", b)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(data, env, WithComponents(kafkaSink))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := c.Validate(0, tt.steps); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tt.check(t, c)
		})
	}
}

// TestLoad checks that Load names the file in every problem and fails
// plainly on a file it cannot read.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "deploy.yaml")
	src := "pipeline:\n  segments:\n    - steps_config:\n        myinput: {auto_offset_reset: sometimes}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if c == nil {
		t.Fatalf("Load returned no config: %v", err)
	}
	want := []string{path + `:4:38: pipeline.segments[0].steps_config.myinput.auto_offset_reset: must be one of earliest, latest, error; got "sometimes"`}
	equalLines(t, problems(t, err), want)
	want = append([]string{path + `:4:9: pipeline.segments[0].steps_config.myinput: no step named "myinput" in the pipeline; the pipeline has no steps`}, want...)
	equalLines(t, problems(t, c.Validate(0, nil)), want)
	_, err = c.Segment(1)
	equalLines(t, problems(t, err), []string{path + ":2:3: pipeline.segments: segment 1 does not exist: the config has 1 segment (id 0)"})

	c, err = Load(filepath.Join(dir, "missing.yaml"))
	if c != nil || err == nil || !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("Load(missing) = %v, %v; want nil and a config: error wrapping os.ErrNotExist", c, err)
	}

	// Load reads the process environment.
	t.Setenv("STREAMS_CONFIG_TEST_TOPIC", "from-env")
	src = "pipeline:\n  segments:\n    - steps_config:\n        myinput: {topic: \"${envvar:STREAMS_CONFIG_TEST_TOPIC}\"}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Pipeline.Segments[0].Steps["myinput"].Topic; got != "from-env" {
		t.Errorf("topic = %q, want from-env", got)
	}
}

// TestParseProblems feeds broken documents to Parse and asserts every
// problem it reports: position, path and message.
func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{{
		name: "syntax error",
		src:  "pipeline:\n  segments: [\n  - a: b\n",
		want: []string{"2: yaml: did not find expected node content"},
	}, {
		name: "syntax error with a line",
		src:  "pipeline:\n  segments:\n    - steps_config: {a: 1}\n   bad: x\n",
		want: []string{"1: yaml: did not find expected key"},
	}, {
		name: "empty document",
		src:  "# nothing\n",
		want: []string{"missing required key pipeline"},
	}, {
		name: "root is a list",
		src:  "- a\n- b\n",
		want: []string{"1:1: a config must be a mapping with the keys env, metrics and pipeline; got a list"},
	}, {
		name: "two documents",
		src:  "pipeline: {segments: [{}]}\n---\npipeline: {segments: [{}]}\n",
		want: []string{"2:1: a config is one YAML document; this is a second one"},
	}, {
		name: "missing segments and unknown top-level keys",
		src:  "pipelines: {}\nsentry_sdk_config: {dsn: x}\npipeline:\n  adapter_config: {flink: {}, arroyo: {write_healthchek: true}}\n",
		want: []string{
			`1:1: pipelines: unknown key (did you mean "pipeline"?); accepted keys: env, metrics, pipeline, sentry_sdk_config`,
			"3:1: pipeline: missing required key segments",
			"4:20: pipeline.adapter_config.flink: unknown key; accepted keys: arroyo, beam, local",
			`4:40: pipeline.adapter_config.arroyo.write_healthchek: unknown key (did you mean "write_healthcheck"?); accepted keys: write_healthcheck`,
		},
	}, {
		// adapter_config.local and .beam take no keys yet: one given
		// would be accepted and ignored.
		name: "adapter_config local and beam keys",
		src:  "pipeline:\n  adapter_config: {local: {parallelism: 4}, beam: {runner: flink}}\n  segments: [{}]\n",
		want: []string{
			"2:28: pipeline.adapter_config.local.parallelism: adapter_config.local takes no keys yet: the bundled runner is set up by steps_config and the command line (--state-dir, ...)",
			"2:52: pipeline.adapter_config.beam.runner: adapter_config.beam takes no keys yet: a Beam runner takes its options on the command line (--runner, --endpoint, ...)",
		},
	}, {
		name: "empty segments",
		src:  "pipeline:\n  segments: []\n",
		want: []string{"2:13: pipeline.segments: must list at least one segment"},
	}, {
		name: "bad types",
		src: `env: []
pipeline:
  segments:
    - parallelism: 1.5
      steps_config:
        myinput:
          starts_segment: yes
          bootstrap_servers: 5
          auto_offset_reset: sometimes
          topic: 42
          override_params: {a: [1]}
          strict_offset_reset: null
          batch_size: 99999999999999999999
        mybatch: {batch_timedelta: 20, commit_interval_ms: fast}
        mysink: [1, 2]
`,
		want: []string{
			"1:6: env: must be a mapping; got a list",
			"4:20: pipeline.segments[0].parallelism: must be an integer; got number 1.5",
			`7:27: pipeline.segments[0].steps_config.myinput.starts_segment: must be true or false; got string "yes"`,
			"8:30: pipeline.segments[0].steps_config.myinput.bootstrap_servers: must be a list of strings or a comma-separated string; got integer 5",
			`9:30: pipeline.segments[0].steps_config.myinput.auto_offset_reset: must be one of earliest, latest, error; got "sometimes"`,
			"10:18: pipeline.segments[0].steps_config.myinput.topic: must be a string; got integer 42 (quote it to make it a string)",
			`11:32: pipeline.segments[0].steps_config.myinput.override_params.a: must be a string; got a list`,
			"12:32: pipeline.segments[0].steps_config.myinput.strict_offset_reset: must be true or false; got null",
			"13:23: pipeline.segments[0].steps_config.myinput.batch_size: must be an integer; got number 99999999999999999999",
			`14:36: pipeline.segments[0].steps_config.mybatch.batch_timedelta: must be a mapping of timedelta arguments such as {seconds: 20} or a duration such as "20s"; got integer 20`,
			`14:60: pipeline.segments[0].steps_config.mybatch.commit_interval_ms: must be a number; got string "fast"`,
			"15:17: pipeline.segments[0].steps_config.mysink: must be a mapping; got a list",
		},
	}, {
		name: "typos and duplicates",
		src: `pipeline:
  segments:
    - steps_config:
        myinput:
          topc: events
          Topic: events
          auto_offset_reset: earlist
          topic: a
          topic: b
          batch_timedelta: {secs: 3}
          parallelism: {multiprocess: {processes: 2}}
        mymap:
          parallelism: {multi_process: {batch_size: 10, proceses: 2}}
`,
		want: []string{
			`5:11: pipeline.segments[0].steps_config.myinput.topc: unknown key (did you mean "topic"?); accepted keys: auto_offset_reset, batch_size, batch_timedelta, bootstrap_servers, changelog_replication_factor, codec, commit_interval_ms, commit_records, consumer_group, dlq, internal_topic_partitions, on_invalid, on_late, override_params, parallelism, processing_guarantee, schema_dir, starts_segment, strict_offset_reset, topic, watermark_idle_ms, watermark_idle_wall_clock, watermark_max_skew_ms`,
			`6:11: pipeline.segments[0].steps_config.myinput.Topic: unknown key (did you mean "topic"?); accepted keys: auto_offset_reset, batch_size, batch_timedelta, bootstrap_servers, changelog_replication_factor, codec, commit_interval_ms, commit_records, consumer_group, dlq, internal_topic_partitions, on_invalid, on_late, override_params, parallelism, processing_guarantee, schema_dir, starts_segment, strict_offset_reset, topic, watermark_idle_ms, watermark_idle_wall_clock, watermark_max_skew_ms`,
			`7:30: pipeline.segments[0].steps_config.myinput.auto_offset_reset: must be one of earliest, latest, error; got "earlist" (did you mean "earliest"?)`,
			`9:11: pipeline.segments[0].steps_config.myinput.topic: duplicate key "topic" (first at line 8)`,
			`10:29: pipeline.segments[0].steps_config.myinput.batch_timedelta.secs: unknown key; accepted keys: days, hours, microseconds, milliseconds, minutes, seconds, weeks`,
			`11:25: pipeline.segments[0].steps_config.myinput.parallelism.multiprocess: unknown key (did you mean "multi_process"?); accepted keys: multi_process`,
			`13:25: pipeline.segments[0].steps_config.mymap.parallelism.multi_process: missing required key processes`,
			`13:57: pipeline.segments[0].steps_config.mymap.parallelism.multi_process.proceses: unknown key (did you mean "processes"?); accepted keys: batch_size, batch_time, input_block_size, max_input_block_size, max_output_block_size, output_block_size, processes`,
		},
	}, {
		name: "metrics",
		src: `metrics:
  type: datadog
  period_sec: 3
  tgas: {a: b}
pipeline: {segments: [{}]}
`,
		want: []string{
			"2:9: metrics.type: metrics type datadog needs host",
			"2:9: metrics.type: metrics type datadog needs port",
			"3:3: metrics.period_sec: key does not apply to metrics type datadog, which accepts: flush_interval_ms, host, port, tags, type, udp_queue_size",
			`4:3: metrics.tgas: unknown key (did you mean "tags"?); accepted keys: address, flush_interval_ms, host, path, period_sec, port, tags, type, udp_queue_size, web_config_file`,
		},
	}, {
		name: "metrics type typo",
		src:  "metrics: {type: prometeus, address: x}\npipeline: {segments: [{}]}\n",
		want: []string{`1:17: metrics.type: unknown metrics type "prometeus" (did you mean "prometheus"?); want one of dummy, log, datadog, prometheus`},
	}, {
		name: "metrics values",
		src: `metrics: {type: log, period_sec: 0.05, tags: {a: null}}
pipeline:
  segments: [{}]
`,
		want: []string{
			"1:34: metrics.period_sec: must be at least 0.1 seconds; got 0.05",
			"1:50: metrics.tags.a: must be a string; got null",
		},
	}, {
		name: "metrics datadog and prometheus values",
		src: `metrics: {type: datadog, host: "", port: 70000, udp_queue_size: -1, flush_interval_ms: 0}
pipeline: {segments: [{parallelism: 0}]}
`,
		want: []string{
			"1:32: metrics.host: must not be empty",
			"1:42: metrics.port: must be a port number from 1 to 65535; got 70000",
			"1:65: metrics.udp_queue_size: must not be negative; got -1",
			"1:88: metrics.flush_interval_ms: must be at least 1; got 0",
			"2:37: pipeline.segments[0].parallelism: must be at least 1; got 0",
		},
	}, {
		name: "prometheus address",
		src:  "metrics: {type: prometheus, address: localhost, path: metrics}\npipeline: {segments: [{}]}\n",
		want: []string{
			`1:38: metrics.address: must be host:port, such as ":9090"; got "localhost"`,
			`1:55: metrics.path: must start with /; got "metrics"`,
		},
	}, {
		name: "step values",
		src: `pipeline:
  segments:
    - steps_config:
        myinput:
          bootstrap_servers: "a:1, b:99999,, c d"
          topic: "bad topic"
          consumer_group: ""
          parallelism: 0
          dlq: {topic: "bad dlq", bootstrap_servers: []}
        mybatch: {batch_size: 0, batch_timedelta: {seconds: -1}}
        mymap: {parallelism: {multi_process: {processes: 0, batch_time: -1}}}
`,
		want: []string{
			`5:30: pipeline.segments[0].steps_config.myinput.bootstrap_servers: broker address "b:99999" has a bad port: want 1 to 65535`,
			`5:30: pipeline.segments[0].steps_config.myinput.bootstrap_servers: empty broker address`,
			`5:30: pipeline.segments[0].steps_config.myinput.bootstrap_servers: broker address "c d" contains white space`,
			`6:18: pipeline.segments[0].steps_config.myinput.topic: topic "bad topic" has character ' '; kafka topic names use letters, digits, '.', '_' and '-'`,
			`7:27: pipeline.segments[0].steps_config.myinput.consumer_group: must not be empty; leave the key out for the default pipeline-<step name>`,
			`8:24: pipeline.segments[0].steps_config.myinput.parallelism: must be at least 1; got 0`,
			`9:24: pipeline.segments[0].steps_config.myinput.dlq.topic: topic "bad dlq" has character ' '; kafka topic names use letters, digits, '.', '_' and '-'`,
			`9:54: pipeline.segments[0].steps_config.myinput.dlq.bootstrap_servers: must name at least one broker; leave the key out to use the source's brokers`,
			`10:31: pipeline.segments[0].steps_config.mybatch.batch_size: must be at least 1; got 0`,
			`10:51: pipeline.segments[0].steps_config.mybatch.batch_timedelta: must be positive; got -1s`,
			`11:58: pipeline.segments[0].steps_config.mymap.parallelism.multi_process.processes: must be at least 1; got 0`,
			`11:73: pipeline.segments[0].steps_config.mymap.parallelism.multi_process.batch_time: must not be negative; got -1`,
		},
	}, {
		name: "changelog replication factor",
		src:  "pipeline:\n  segments:\n    - steps_config:\n        myinput: {changelog_replication_factor: -1}\n",
		want: []string{`4:49: pipeline.segments[0].steps_config.myinput.changelog_replication_factor: must be between 1 and 32767; got -1`},
	}, {
		name: "dlq topic equals source topic",
		src:  "pipeline:\n  segments:\n    - steps_config:\n        myinput: {topic: events, dlq: {topic: events}}\n",
		want: []string{`4:47: pipeline.segments[0].steps_config.myinput.dlq.topic: the dead-letter topic must differ from the source topic "events"`},
	}, {
		name: "empty bootstrap servers",
		src:  "pipeline:\n  segments:\n    - steps_config:\n        myinput: {bootstrap_servers: []}\n",
		want: []string{`4:38: pipeline.segments[0].steps_config.myinput.bootstrap_servers: must name at least one broker; leave the key out to use the embedded development broker`},
	}, {
		name: "envvar syntax",
		src: `env:
  a: "${envvar:UNSET}"
  b: "x${envvar:1BAD}y"
  c: "${envvar:OPEN"
pipeline: {segments: [{}]}
`,
		want: []string{
			"2:6: env.a: environment variable UNSET is not set (referenced as ${envvar:UNSET})",
			`3:6: env.b: bad environment variable name "1BAD" in ${envvar:...}: want letters, digits and underscores, not starting with a digit`,
			"4:6: env.c: unterminated ${envvar: reference: want ${envvar:NAME}",
		},
	}, {
		name: "envvar failure is reported once",
		src:  "pipeline:\n  segments:\n    - parallelism: ${envvar:P}\n",
		want: []string{"3:20: pipeline.segments[0].parallelism: environment variable P is not set (referenced as ${envvar:P})"},
	}, {
		name: "substituted value of the wrong type",
		src:  "pipeline:\n  segments:\n    - parallelism: ${envvar:WORKERS}\n      steps_config: {s: {starts_segment: \"${envvar:WORKERS}\"}}\n",
		want: []string{
			`3:20: pipeline.segments[0].parallelism: must be an integer; got string "many"`,
			`4:42: pipeline.segments[0].steps_config.s.starts_segment: must be true or false; got string "many"`,
		},
	}, {
		name: "non-scalar key",
		src:  "pipeline:\n  segments:\n    - steps_config:\n        ? [a]\n        : {}\n",
		want: []string{"4:11: pipeline.segments[0].steps_config: a mapping key must be a scalar, not a list"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.src), envOf("WORKERS", "many"))
			equalLines(t, problems(t, err), tt.want)
			if c == nil || len(c.Pipeline.Segments) == 0 {
				return
			}
			// Validate repeats every problem Parse found.
			var steps []StepInfo
			for _, n := range c.Pipeline.Segments[0].StepNames {
				steps = append(steps, StepInfo{n, kindFor(n)})
			}
			all := problems(t, c.Validate(0, steps))
			for _, p := range tt.want {
				if !slices.Contains(all, p) {
					t.Errorf("Validate does not repeat %q", p)
				}
			}
		})
	}
}

// kindFor guesses a step's kind from its name, for tests whose configs
// name steps after their kinds.
func kindFor(name string) StepKind {
	switch {
	case strings.HasPrefix(name, "myinput"):
		return Source
	case strings.HasPrefix(name, "mysink"):
		return Sink
	case strings.HasPrefix(name, "test"):
		return StepKind(testSink.Kind)
	case strings.HasPrefix(name, "mybatch"):
		return Batch
	}
	return Map
}

// TestSentrySDKConfig reads sentry_sdk_config, fills its defaults and
// refuses what is out of range.
func TestSentrySDKConfig(t *testing.T) {
	c, err := Parse([]byte("sentry_sdk_config: {dsn: \"${envvar:DSN}\", environment: prod}\npipeline: {segments: [{}]}\n"),
		envOf("DSN", "https://key@sentry.example/1"))
	if err != nil {
		t.Fatal(err)
	}
	want := Sentry{DSN: "https://key@sentry.example/1", Environment: "prod", SampleRate: 1, StepErrorsPerMinute: 10,
		Set: map[string]bool{"dsn": true, "environment": true}}
	if !reflect.DeepEqual(c.Sentry, want) {
		t.Errorf("got %+v, want %+v", c.Sentry, want)
	}
	c, err = Parse([]byte("sentry_sdk_config: {dsn: x, release: r1, sample_rate: 0, step_errors_per_minute: 0}\npipeline: {segments: [{}]}\n"), envOf())
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Sentry; s.Release != "r1" || s.SampleRate != 0 || s.StepErrorsPerMinute != 0 {
		t.Errorf("explicit zeros: got %+v", s)
	}
	_, err = Parse([]byte("sentry_sdk_config: {environment: prod, sample_rate: 2, step_errors_per_minute: -1, traces_sample_rate: 1}\npipeline: {segments: [{}]}\n"), envOf())
	for _, w := range []string{
		"sentry_sdk_config: missing required key dsn",
		"sentry_sdk_config.sample_rate: must be from 0 to 1; got 2",
		"sentry_sdk_config.step_errors_per_minute: must not be negative; got -1",
		"sentry_sdk_config.traces_sample_rate: unknown key",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}
}
