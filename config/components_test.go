package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/component"
)

// testSink is a component with a key of each type, a key shared with
// the batch step, and a check between keys.
var testSink = component.Spec{
	Kind: "test_sink", Label: "test", Doc: "A test sink.",
	Keys: []component.Key{
		{Name: "batch_size", Type: component.Int, Check: component.AtLeast(1)},
		{Name: "wait_ms", Type: component.Millis, Check: component.Positive},
		{Name: "target", Type: component.String, Check: component.NotBlank},
		{Name: "retries", Type: component.Int},
	},
	Check: func(v component.Values, problem func(key, msg string)) {
		if v.IsSet("retries") && !v.IsSet("wait_ms") {
			problem("retries", "needs wait_ms as well")
		}
	},
}

// kafkaSink has the keys of the Kafka sink's spec (beamtranslate.Kafka,
// which config cannot import; beamtranslate's TestKafkaSinkSpec holds
// it to the names these tests expect): all of them keys the source
// takes too.
var kafkaSink = component.Spec{
	Kind: string(Sink), Label: "kafka", Doc: "A Kafka sink.",
	Keys: []component.Key{
		{Name: "topic", Type: component.String},
		{Name: "bootstrap_servers", Type: component.Strings},
		{Name: "override_params", Type: component.StringMap},
		{Name: "codec", Type: component.String},
	},
}

func TestComponentKeysDecode(t *testing.T) {
	c, err := Parse([]byte(`pipeline:
  segments:
    - steps_config:
        out: {batch_size: 5, wait_ms: 250, target: "${envvar:TARGET}", parallelism: 2}
`), func(string) (string, bool) { return "there", true }, WithComponents(testSink))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(0, []StepInfo{{"out", "test_sink"}}); err != nil {
		t.Fatal(err)
	}
	sc := c.Pipeline.Segments[0].Step("out", "test_sink")
	v := sc.ValuesOf(testSink)
	if v.Int("batch_size") != 5 || v.Duration("wait_ms") != 250*time.Millisecond || v.Str("target") != "there" || v.IsSet("retries") || sc.Parallelism != 2 {
		t.Errorf("values %+v, step %+v", v, sc)
	}
	if sc.BatchSize != 5 || !sc.IsSet("target") || sc.IsSet("retries") {
		t.Errorf("built-in view of the step: %+v", sc)
	}
	// A config built in Go.
	built := StepConfig{BatchSize: 3, Values: component.Values{"target": component.StringValue("x")}}
	if !built.IsSet("target") || built.ValuesOf(testSink).Int("batch_size") != 3 {
		t.Errorf("built in Go: %+v", built.ValuesOf(testSink))
	}
}

// The keys a component shares with the source are decoded and checked
// as the source's, and ValuesOf copies them; a component's own list and
// mapping keys decode by their types.
func TestSharedAndListKeysDecode(t *testing.T) {
	lists := component.Spec{Kind: "lists", Label: "lists", Keys: []component.Key{
		{Name: "hosts", Type: component.Strings}, {Name: "labels", Type: component.StringMap}}}
	c, err := Parse([]byte(`pipeline:
  segments:
    - steps_config:
        out: {topic: t, codec: msgpack, bootstrap_servers: "a:1,b:2", override_params: {client.id: x}}
        more: {hosts: [h1, h2], labels: {k: v}}
        bad: {codec: yaml, topic: "a b", hosts: {x: y}}
`), nil, WithComponents(kafkaSink, lists))
	want := []string{
		`6:22: pipeline.segments[0].steps_config.bad.codec: must be one of json, msgpack, protobuf; got "yaml"`,
		`6:35: pipeline.segments[0].steps_config.bad.topic: topic "a b" has character ' '; kafka topic names use letters, digits, '.', '_' and '-'`,
		`6:49: pipeline.segments[0].steps_config.bad.hosts: must be a list of strings or a comma-separated string; got a mapping`,
	}
	equalLines(t, problems(t, err), want)
	out, more := c.Pipeline.Segments[0].Step("out", Sink), c.Pipeline.Segments[0].Step("more", "lists")
	v := out.ValuesOf(kafkaSink)
	if v.Str("topic") != "t" || v.Str("codec") != "msgpack" || strings.Join(v.List("bootstrap_servers"), " ") != "a:1 b:2" || v.Map("override_params")["client.id"] != "x" {
		t.Errorf("shared values %+v", v)
	}
	m := more.ValuesOf(lists)
	if strings.Join(m.List("hosts"), " ") != "h1 h2" || m.Map("labels")["k"] != "v" || m["hosts"].Type() != component.Strings {
		t.Errorf("list values %+v", m)
	}
}

func TestComponentKeysRefused(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want []string
	}{
		{"out: {batch_size: 0, wait_ms: 0, target: \" \", retries: 1}", []string{
			`4:27: pipeline.segments[0].steps_config.out.batch_size: must be at least 1; got 0`,
			`4:39: pipeline.segments[0].steps_config.out.wait_ms: must be positive; got 0`,
			`4:50: pipeline.segments[0].steps_config.out.target: must not be empty`,
		}},
		{"out: {retries: 1}", []string{
			`4:24: pipeline.segments[0].steps_config.out.retries: needs wait_ms as well`,
		}},
		{"out: {wait_ms: soon, target: [a], retries: x}", []string{
			`4:24: pipeline.segments[0].steps_config.out.wait_ms: must be a number; got string "soon"`,
			`4:38: pipeline.segments[0].steps_config.out.target: must be a string; got a list`,
			`4:52: pipeline.segments[0].steps_config.out.retries: must be an integer; got string "x"`,
		}},
		{"out: {target: x, topic: t}\n        kafka: {target: b}", []string{
			`4:26: pipeline.segments[0].steps_config.out.topic: test_sink step "out" does not take this key; test_sink steps accept: batch_size, parallelism, retries, starts_segment, target, wait_ms`,
			`5:17: pipeline.segments[0].steps_config.kafka.target: sink step "kafka" does not take this key; sink steps accept: bootstrap_servers, codec, override_params, parallelism, starts_segment, topic`,
		}},
		{"out: {targt: x}", []string{
			`4:15: pipeline.segments[0].steps_config.out.targt: unknown key (did you mean "target"?); accepted keys: ` + strings.Join(stepKeysWith([]component.Spec{testSink}), ", "),
		}},
	} {
		c, err := Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        "+tc.yaml+"\n"), nil, WithComponents(testSink, kafkaSink))
		if c != nil {
			err = c.Validate(0, []StepInfo{{"out", "test_sink"}, {"kafka", Sink}})
		}
		equalLines(t, problems(t, err), tc.want)
	}
}

// Without the component its keys are unknown, and its kind is invalid.
func TestComponentKeysNeedTheComponent(t *testing.T) {
	c, err := Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        out: {target: x}\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "out.target: unknown key") {
		t.Errorf("Parse without the component: %v", err)
	}
	if err := c.Validate(0, []StepInfo{{"out", "test_sink"}}); err == nil || !strings.Contains(err.Error(), `pipeline step "out" has invalid kind test_sink`) {
		t.Errorf("Validate without the component: %v", err)
	}
}

func TestComponentKeysListed(t *testing.T) {
	keys := Keys(testSink)
	for _, k := range []string{"wait_ms", "target", "retries", "batch_size"} {
		if !slices.Contains(keys, "pipeline.segments[].steps_config.<step>."+k) {
			t.Errorf("Keys lacks %s", k)
		}
	}
	if slices.Contains(Keys(), "pipeline.segments[].steps_config.<step>.target") {
		t.Error("Keys() lists a component's key without it")
	}
}

func TestWithComponentsRefusesBadLists(t *testing.T) {
	for _, tc := range []struct {
		specs []component.Spec
		want  string
	}{
		{[]component.Spec{testSink, testSink}, `component "test_sink": listed twice`},
		{[]component.Spec{{Kind: "source", Label: "kafka"}}, `component "source": the kind of a built-in step`},
		{[]component.Spec{{Kind: "x", Label: "x", Keys: []component.Key{{Name: "consumer_group", Type: component.String}}}}, `component "x": key "consumer_group" is a built-in step's`},
		{[]component.Spec{{Kind: "x", Label: "x", Keys: []component.Key{{Name: "topic", Type: component.Strings}}}}, `component "x": key "topic" is a built-in step's`},
		{[]component.Spec{{Kind: "x", Label: "x", Keys: []component.Key{{Name: "batch_size", Type: component.Millis}}}}, `component "x": key "batch_size" is a built-in step's`},
	} {
		_, err := Parse([]byte("pipeline: {segments: [{}]}\n"), nil, WithComponents(tc.specs...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse with %v: %v, want %s", tc.specs, err, tc.want)
		}
	}
}
