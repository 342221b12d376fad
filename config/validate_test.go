package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/component"
)

// TestValidateProblems checks the problems that need the pipeline: steps
// the pipeline lacks, keys a step's kind does not take, parallelism
// rules, the segment id and the step list itself.
func TestValidateProblems(t *testing.T) {
	const src = `pipeline:
  segments:
    - steps_config:
        myinput: {auto_offset_reset: earliest, dlq: {}}
        mysink: {auto_offset_reset: earliest, consumer_group: g, topic: out}
        mymap: {parallelism: 2}
        parser: {starts_segment: true, parallelism: {multi_process: {processes: 2}}}
        mybatch: {parallelism: {multi_process: {processes: 2}}, commit_interval_ms: 5}
        myrouter: {parallelism: 2}
        mybranch: {starts_segment: true}
        serialiser: {}
`
	steps := []StepInfo{
		{"myinput", Source}, {"parser", Parser}, {"mymap", Map}, {"mybatch", Batch},
		{"myrouter", Router}, {"mybranch", Branch}, {"serializer", Serializer}, {"mysink", Sink},
	}
	c, err := Parse([]byte(src), envOf(), WithComponents(kafkaSink))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	const s = "pipeline.segments[0].steps_config."
	want := []string{
		`5:18: ` + s + `mysink.auto_offset_reset: sink step "mysink" does not take this key; sink steps accept: bootstrap_servers, codec, override_params, parallelism, starts_segment, topic`,
		`5:47: ` + s + `mysink.consumer_group: sink step "mysink" does not take this key; sink steps accept: bootstrap_servers, codec, override_params, parallelism, starts_segment, topic`,
		`8:19: ` + s + `mybatch.parallelism: multi_process applies to map-like steps only; give the batch step an integer parallelism`,
		`8:65: ` + s + `mybatch.commit_interval_ms: batch step "mybatch" does not take this key; batch steps accept: batch_size, batch_timedelta, parallelism, starts_segment`,
		`9:20: ` + s + `myrouter.parallelism: router step "myrouter" does not take this key; router steps accept: on_invalid, starts_segment`,
		`11:9: ` + s + `serialiser: no step named "serialiser" in the pipeline (did you mean "serializer"?); its steps are: myinput, parser, mymap, mybatch, myrouter, mybranch, serializer, mysink`,
	}
	equalLines(t, problems(t, c.Validate(0, steps)), want)

	// Validate is repeatable and does not change the config.
	before := *c
	equalLines(t, problems(t, c.Validate(0, steps)), want)
	if !reflect.DeepEqual(before, *c) {
		t.Error("Validate changed the config")
	}

	// A bad step list and a bad segment id.
	equalLines(t, problems(t, c.Validate(-1, steps)), []string{
		"2:3: pipeline.segments: segment -1 does not exist: the config has 1 segment (id 0)",
	})
	bad := []StepInfo{{"myinput", Source}, {"myinput", Map}, {"x", ""}}
	got := problems(t, c.Validate(0, bad))
	for _, w := range []string{
		`pipeline step "myinput" is listed twice`,
		`pipeline step "x" has invalid kind StepKind("")`,
	} {
		if got[len(got)-2] != w && got[len(got)-1] != w {
			t.Errorf("missing %q in %q", w, got)
		}
	}
}

// TestOverrideParams checks that every override_params entry (source,
// sink and dlq) goes through clientconf.CheckProperty, its error reported at
// the entry's key and reachable with errors.As.
func TestOverrideParams(t *testing.T) {
	src := `pipeline:
  segments:
    - steps_config:
        myinput:
          override_params:
            security.protocol: SASL_SSL
            sasl.mechanism: SCRAM-SHA-512
            max.poll.interval.ms: 300000
            enable.auto.commit: false
            securty.protocol: SSL
          dlq:
            override_params: {security.protocol: TLS}
        mysink:
          override_params: {linger.ms: soon, acks: all}
`
	c, err := Parse([]byte(src), envOf())
	const s = "pipeline.segments[0].steps_config."
	lines := problems(t, err)
	wantPrefix := []string{
		`9:13: ` + s + `myinput.override_params["enable.auto.commit"]: `,
		`10:13: ` + s + `myinput.override_params["securty.protocol"]: unknown client property "securty.protocol" (did you mean "security.protocol"?)`,
		`12:31: ` + s + `myinput.dlq.override_params["security.protocol"]: property security.protocol: `,
		`14:29: ` + s + `mysink.override_params["linger.ms"]: property linger.ms: `,
	}
	if len(lines) != len(wantPrefix) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(wantPrefix), strings.Join(lines, "\n"))
	}
	for i, w := range wantPrefix {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d:\n got %s\nwant prefix %s", i, lines[i], w)
		}
	}
	var p *Problem
	if !errors.As(err, &p) || p.Err == nil {
		t.Errorf("errors.As(*Problem) = %+v; want the kafka error as Err", p)
	}
	if c == nil {
		t.Fatal("no config")
	}
	got := c.Pipeline.Segments[0].Steps["myinput"].OverrideParams["max.poll.interval.ms"]
	if got != "300000" {
		t.Errorf("max.poll.interval.ms = %q; want the text as written", got)
	}
}

// TestEnvSubstitution checks ${envvar:NAME}: whole and embedded, in
// every string value (lists, free-form maps, quoted or not), never in
// keys, not re-expanded, and typed by the key that holds it.
func TestEnvSubstitution(t *testing.T) {
	src := `env:
  url: "http://${envvar:HOST}:${envvar:PORT}/x"
  plain: ${envvar:PORT}
  nested: {list: ["${envvar:HOST}", 7]}
  ${envvar:HOST}: key is not substituted
  loop: ${envvar:LOOP}
metrics:
  type: datadog
  host: ${envvar:HOST}
  port: "${envvar:PORT}"
pipeline:
  segments:
    - parallelism: ${envvar:WORKERS}
      steps_config:
        myinput:
          bootstrap_servers: ["${envvar:HOST}:9092", "b:${envvar:PORT}"]
          starts_segment: "${envvar:YES}"
          topic: events-${envvar:REGION}
          strict_offset_reset: ${envvar:YES}
          override_params: {client.id: "${envvar:HOST}"}
        mybatch: {batch_timedelta: "${envvar:WINDOW}", batch_size: "${envvar:WORKERS}"}
`
	env := envOf("HOST", "kafka", "PORT", "8125", "WORKERS", "3", "YES", "true",
		"REGION", "eu", "WINDOW", "1m30s", "LOOP", "${envvar:LOOP}")
	c, err := Parse([]byte(src), env)
	if err != nil {
		t.Fatal(err)
	}
	wantEnv := map[string]any{
		"url":            "http://kafka:8125/x",
		"plain":          "8125", // free-form: substituted values stay strings
		"nested":         map[string]any{"list": []any{"kafka", 7}},
		"${envvar:HOST}": "key is not substituted",
		"loop":           "${envvar:LOOP}",
	}
	if !reflect.DeepEqual(c.Env, wantEnv) {
		t.Errorf("env:\n got %#v\nwant %#v", c.Env, wantEnv)
	}
	if c.Metrics.Host != "kafka" || c.Metrics.Port != 8125 {
		t.Errorf("metrics = %+v", c.Metrics)
	}
	seg := c.Pipeline.Segments[0]
	if seg.Parallelism != 3 {
		t.Errorf("segment parallelism = %d", seg.Parallelism)
	}
	in := seg.Steps["myinput"]
	if want := []string{"kafka:9092", "b:8125"}; !reflect.DeepEqual(in.BootstrapServers, want) {
		t.Errorf("bootstrap_servers = %v", in.BootstrapServers)
	}
	if !in.StartsSegment || !in.StrictOffsetReset || in.Topic != "events-eu" || in.OverrideParams["client.id"] != "kafka" {
		t.Errorf("myinput = %+v", in)
	}
	if b := seg.Steps["mybatch"]; b.BatchTimedelta != 90*time.Second || b.BatchSize != 3 {
		t.Errorf("mybatch = %+v", b)
	}

	// nil lookupEnv reads the process environment.
	t.Setenv("STREAMS_CONFIG_TEST_GROUP", "from-process")
	c, err = Parse([]byte("pipeline:\n  segments:\n    - steps_config: {s: {consumer_group: \"${envvar:STREAMS_CONFIG_TEST_GROUP}\"}}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Pipeline.Segments[0].Steps["s"].ConsumerGroup; g != "from-process" {
		t.Errorf("consumer_group = %q", g)
	}
}

// TestDefaults checks EnsureDefaults and Segment.Step.
func TestDefaults(t *testing.T) {
	src := `metrics: {type: prometheus}
pipeline:
  segments:
    - steps_config:
        myinput: {bootstrap_servers: "a:9092, b:9092", dlq: {topic: dead}}
        other: {dlq: {}}
        mysink: {}
`
	c, err := Parse([]byte(src), envOf())
	if err != nil {
		t.Fatal(err)
	}
	if c.Metrics.Address != ":9090" || c.Metrics.Path != "/metrics" {
		t.Errorf("prometheus defaults: %+v", c.Metrics)
	}
	seg, err := c.Segment(0)
	if err != nil {
		t.Fatal(err)
	}
	in := seg.Step("myinput", Source)
	brokers := []string{"a:9092", "b:9092"}
	if in.ConsumerGroup != "pipeline-myinput" || in.AutoOffsetReset != OffsetLatest ||
		!reflect.DeepEqual(in.BootstrapServers, brokers) ||
		!reflect.DeepEqual(in.DLQ, &DLQConfig{Topic: "dead", BootstrapServers: brokers}) {
		t.Errorf("myinput = %+v, dlq %+v", in, in.DLQ)
	}
	// Step works on a copy: the config keeps what the file said.
	if raw := seg.Steps["myinput"]; raw.ConsumerGroup != "" || raw.DLQ.BootstrapServers != nil {
		t.Errorf("Step changed the config: %+v", raw)
	}
	// A source the file does not mention gets every default, including
	// no brokers (the embedded development broker).
	if got := seg.Step("unlisted", Source); !reflect.DeepEqual(got, StepConfig{ConsumerGroup: "pipeline-unlisted", AutoOffsetReset: OffsetLatest}) {
		t.Errorf("unlisted = %+v", got)
	}
	// An empty dlq with no source brokers stays without brokers.
	if got := seg.Step("other", Source); got.DLQ == nil || got.DLQ.BootstrapServers != nil {
		t.Errorf("other = %+v", got)
	}
	// Other kinds get no source defaults.
	if got := seg.Step("mysink", Sink); got.ConsumerGroup != "" || got.AutoOffsetReset != "" {
		t.Errorf("mysink = %+v", got)
	}

	var m Config
	m.Metrics.Type = MetricsLog
	if m.EnsureDefaults().Metrics.Period != 10*time.Second {
		t.Errorf("log period default = %v", m.Metrics.Period)
	}
	var empty Config
	if empty.EnsureDefaults().Metrics.Type != MetricsDummy {
		t.Error("metrics type default is not dummy")
	}
}

// TestBootstrapServersForms checks the list and comma-separated forms,
// and that leaving the key out is not a problem.
func TestBootstrapServersForms(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  []string
	}{
		{`["a:1", "b:2"]`, []string{"a:1", "b:2"}},
		{`"a:1,b:2"`, []string{"a:1", "b:2"}},
		{`" a:1 , b "`, []string{"a:1", "b"}},
		{`["[::1]:9092"]`, []string{"[::1]:9092"}},
		{``, nil},
	} {
		body := "{}"
		if tt.value != "" {
			body = "{bootstrap_servers: " + tt.value + "}"
		}
		src := "pipeline:\n  segments:\n    - steps_config:\n        myinput: " + body + "\n"
		c, err := Parse([]byte(src), envOf())
		if err != nil {
			t.Errorf("%s: %v", tt.value, err)
			continue
		}
		if err := c.Validate(0, []StepInfo{{"myinput", Source}}); err != nil {
			t.Errorf("%s: Validate: %v", tt.value, err)
		}
		if got := c.Pipeline.Segments[0].Steps["myinput"].BootstrapServers; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.value, got, tt.want)
		}
	}
}

// TestAliases checks anchors, aliases and merge keys, and that hostile
// uses of them (self reference, exponential expansion) end in a problem,
// not a hang or a crash.
func TestAliases(t *testing.T) {
	src := `x-kafka: &kafka
  bootstrap_servers: ["k:9092"]
  override_params: {security.protocol: SSL}
pipeline:
  segments:
    - steps_config:
        myinput:
          <<: *kafka
          topic: in
        mysink:
          <<: [*kafka]
          bootstrap_servers: ["other:9092"]
`
	c, err := Parse([]byte(src), envOf())
	lines := problems(t, err)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "1:1: x-kafka: unknown key") {
		t.Fatalf("problems = %q; want only the unknown x-kafka key", lines)
	}
	steps := c.Pipeline.Segments[0].Steps
	if in := steps["myinput"]; !reflect.DeepEqual(in.BootstrapServers, []string{"k:9092"}) || in.OverrideParams["security.protocol"] != "SSL" || in.Topic != "in" {
		t.Errorf("myinput = %+v", in)
	}
	if out := steps["mysink"]; !reflect.DeepEqual(out.BootstrapServers, []string{"other:9092"}) || out.OverrideParams["security.protocol"] != "SSL" {
		t.Errorf("mysink = %+v", out)
	}
	// Problems in merged and explicit values are located where they are
	// written, under the path of the step that uses them.
	src = `x-kafka: &kafka {topic: "bad topic", bootstrap_servers: ["k:0"]}
pipeline:
  segments:
    - steps_config:
        myinput: {<<: *kafka, bootstrap_servers: ["k:99999"]}
`
	_, err = Parse([]byte(src), envOf())
	equalLines(t, problems(t, err)[1:], []string{
		`1:25: pipeline.segments[0].steps_config.myinput.topic: topic "bad topic" has character ' '; kafka topic names use letters, digits, '.', '_' and '-'`,
		`5:51: pipeline.segments[0].steps_config.myinput.bootstrap_servers[0]: broker address "k:99999" has a bad port: want 1 to 65535`,
	})

	// Anchors may sit in env, which is free-form.
	src = `env:
  kafka: &kafka {bootstrap_servers: ["k:9092"]}
pipeline:
  segments: [{steps_config: {myinput: *kafka}}]
`
	if _, err := Parse([]byte(src), envOf()); err != nil {
		t.Errorf("anchor in env: %v", err)
	}

	for name, src := range map[string]string{
		"self reference": "env: &a {b: *a}\npipeline: {segments: [{}]}\n",
		"self merge":     "env: &a {<<: *a}\npipeline: {segments: [{steps_config: {s: &s {<<: *s}}}]}\n",
		"billion laughs": `a: &a ["x","x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]
env: {g: *g}
pipeline: {segments: [{}]}
`,
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := Parse([]byte(src), envOf())
			if !strings.Contains(err.Error(), "too large or too deeply nested") {
				t.Errorf("err = %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestErrorFormat checks how problems print with and without a file,
// position or path.
func TestErrorFormat(t *testing.T) {
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "f.yaml", Line: 3, Column: 7, Path: "a.b", Msg: "bad"}, "f.yaml:3:7: a.b: bad"},
		{Problem{File: "f.yaml", Line: 3, Msg: "bad"}, "f.yaml:3: bad"},
		{Problem{File: "f.yaml", Path: "a", Msg: "bad"}, "f.yaml: a: bad"},
		{Problem{Line: 1, Column: 2, Msg: "bad"}, "1:2: bad"},
		{Problem{Msg: "bad"}, "bad"},
	} {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.p, got, tt.want)
		}
	}
	e := &Error{Problems: []Problem{{Line: 1, Msg: "a"}, {Line: 2, Msg: "b", Err: ErrEnvVarNotSet}}}
	if e.Error() != "1: a\n2: b" || !errors.Is(e, ErrEnvVarNotSet) {
		t.Errorf("Error() = %q, Is = %v", e.Error(), errors.Is(e, ErrEnvVarNotSet))
	}
	if got := join("override_params", "security.protocol"); got != `override_params["security.protocol"]` {
		t.Errorf("join quoted = %s", got)
	}
}

// TestStepKind checks the kind names and key sets.
func TestStepKind(t *testing.T) {
	names := map[StepKind]string{}
	for _, k := range kindList {
		n := k.String()
		if strings.HasPrefix(n, "StepKind(") || names[k] != "" {
			t.Errorf("kind %q has name %q", string(k), n)
		}
		names[k] = n
		keys := k.Keys()
		if len(keys) == 0 || keys[len(keys)-1] != "starts_segment" && !contains(keys, "starts_segment") {
			t.Errorf("%v keys %v lack starts_segment", k, keys)
		}
		for _, key := range keys {
			if !contains(stepKeys, key) {
				t.Errorf("%v accepts %q, which Parse does not know", k, key)
			}
		}
	}
	if Sink.String() != "sink" || StepKind("devnull_sink").String() != "devnull_sink" || StepKind("").String() != `StepKind("")` {
		t.Error("unexpected kind names")
	}
	if StepKind("").Keys() != nil || StepKind("devnull_sink").Keys() != nil {
		t.Error("invalid kind has keys")
	}
	// Every step key is taken by some kind.
	for _, key := range stepKeys {
		found := false
		for _, k := range kindList {
			found = found || contains(k.Keys(), key)
		}
		if !found {
			t.Errorf("no kind takes %q", key)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestConfigBuiltInGo checks that Validate checks values of a config
// that never saw YAML (no positions, no Set maps).
func TestConfigBuiltInGo(t *testing.T) {
	c := &Config{Pipeline: Pipeline{Segments: []Segment{{Steps: map[string]StepConfig{
		"myinput": {AutoOffsetReset: "sometimes", Parallelism: -1, OverrideParams: map[string]string{"nope": "1"}},
		"mysink":  {Topic: "out", ConsumerGroup: "g"},
	}}}}, Components: []component.Spec{kafkaSink}}
	c.EnsureDefaults()
	got := problems(t, c.Validate(0, []StepInfo{{"myinput", Source}, {"mysink", Sink}}))
	want := []string{
		`pipeline.segments[0].steps_config.myinput.auto_offset_reset: must be one of earliest, latest, error; got "sometimes"`,
		`pipeline.segments[0].steps_config.myinput.override_params: unknown client property "nope" (see clientconf.Properties for the accepted keys)`,
		`pipeline.segments[0].steps_config.myinput.parallelism: must be at least 1; got -1`,
		`pipeline.segments[0].steps_config.mysink.consumer_group: sink step "mysink" does not take this key; sink steps accept: bootstrap_servers, codec, override_params, parallelism, starts_segment, topic`,
	}
	equalLines(t, got, want)
}

func TestOnInvalid(t *testing.T) {
	cfg, err := Parse([]byte(`pipeline:
  segments:
    - steps_config:
        mymap: {on_invalid: skip}
        myrouter: {on_invalid: stop}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	seg, _ := cfg.Segment(0)
	if seg.Steps["mymap"].OnInvalid != OnInvalidSkip || seg.Steps["myrouter"].OnInvalid != OnInvalidStop {
		t.Errorf("on_invalid: %+v", seg.Steps)
	}
	if err := cfg.Validate(0, []StepInfo{{"mymap", Map}, {"myrouter", Router}}); err != nil {
		t.Errorf("validate: %v", err)
	}
	_, err = Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        mymap: {on_invalid: ignore}\n"), nil)
	if err == nil || !strings.Contains(err.Error(), `4:29: pipeline.segments[0].steps_config.mymap.on_invalid: must be one of stop, skip; got "ignore"`) {
		t.Errorf("bad policy: %v", err)
	}
	cfg, _ = Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        out: {on_invalid: skip}\n"), nil, WithComponents(kafkaSink))
	if err := cfg.Validate(0, []StepInfo{{"out", Sink}}); err == nil || !strings.Contains(err.Error(), "does not take this key") {
		t.Errorf("on_invalid on a sink: %v", err)
	}
}

func TestOnLate(t *testing.T) {
	steps := []StepInfo{{"in", Source}, {"count", Reduce}, {"mymap", Map}}
	cfg, err := Parse([]byte(`pipeline:
  segments:
    - steps_config:
        in: {dlq: {}}
        count: {on_late: dlq}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	seg, _ := cfg.Segment(0)
	if seg.Steps["count"].OnLate != OnLateDLQ {
		t.Errorf("on_late: %+v", seg.Steps["count"])
	}
	if err := cfg.Validate(0, steps); err != nil {
		t.Errorf("validate: %v", err)
	}
	_, err = Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        count: {on_late: keep}\n"), nil)
	if err == nil || !strings.Contains(err.Error(), `4:26: pipeline.segments[0].steps_config.count.on_late: must be one of dlq, drop; got "keep"`) {
		t.Errorf("bad policy: %v", err)
	}
	// dlq without a dead-letter queue, and on_late on a map: both listed.
	cfg, _ = Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        count: {on_late: dlq}\n        mymap: {on_late: drop, starts_segment: true}\n"), nil)
	err = cfg.Validate(0, steps)
	if err == nil || !strings.Contains(err.Error(), "count.on_late: on_late: dlq needs a dead-letter queue") ||
		!strings.Contains(err.Error(), `mymap.on_late: map step "mymap" does not take this key`) {
		t.Errorf("validate: %v", err)
	}
}

// Keys lists every key: each step kind's, under a step entry, and the
// nested ones, sorted and once each.
func TestKeys(t *testing.T) {
	keys := Keys()
	if !slices.IsSorted(keys) || len(slices.Compact(slices.Clone(keys))) != len(keys) {
		t.Errorf("Keys() is not sorted and unique: %v", keys)
	}
	const step = "pipeline.segments[].steps_config.<step>."
	want := []string{"env", "metrics.log.period_sec", "pipeline.adapter_config.local", "pipeline.segments[].parallelism",
		step + "dlq.topic", step + "parallelism.multi_process.processes", step + "batch_timedelta.weeks"}
	for _, k := range kindList {
		for _, key := range k.Keys() {
			want = append(want, step+key)
		}
	}
	for _, w := range want {
		if !slices.Contains(keys, w) {
			t.Errorf("Keys() lacks %s", w)
		}
	}
}

// batch_timedelta takes Python's timedelta keyword arguments, each unit
// its own, summed, or a Go duration.
func TestBatchTimedeltaUnits(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{
		{"{weeks: 1}", 7 * 24 * time.Hour},
		{"{days: 1}", 24 * time.Hour},
		{"{hours: 1}", time.Hour},
		{"{minutes: 1}", time.Minute},
		{"{seconds: 1.5}", 1500 * time.Millisecond},
		{"{milliseconds: 2}", 2 * time.Millisecond},
		{"{microseconds: 3}", 3 * time.Microsecond},
		{"{minutes: 1, seconds: 30, milliseconds: 5}", 90*time.Second + 5*time.Millisecond},
		{`"1m30s"`, 90 * time.Second},
	} {
		c, err := Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        b: {batch_timedelta: "+tc.value+"}\n"), nil)
		if err != nil {
			t.Errorf("%s: %v", tc.value, err)
			continue
		}
		if got := c.Pipeline.Segments[0].Steps["b"].BatchTimedelta; got != tc.want {
			t.Errorf("batch_timedelta: %s = %v, want %v", tc.value, got, tc.want)
		}
	}
}
