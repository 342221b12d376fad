package beamtranslate

import (
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/config"
)

// configProblems parses yaml, a steps_config entry or several, with the
// given sinks, validates it against steps, and returns its problems.
func configProblems(t *testing.T, yaml string, steps []config.StepInfo, sinks ...Sink) []string {
	t.Helper()
	var specs []component.Spec
	for _, s := range sinks {
		specs = append(specs, s.Spec)
	}
	c, err := config.Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        "+yaml+"\n"), nil, config.WithComponents(specs...))
	if c != nil {
		err = c.Validate(0, steps)
	}
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func equalProblems(t *testing.T, got, want []string) {
	t.Helper()
	for i := range got {
		got[i] = strings.TrimSpace(got[i])
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// A devnull sink's keys decode into its values; bad ones are refused
// with their place, as config refuses any key's.
func TestDevNullSinkKeys(t *testing.T) {
	c, err := config.Parse([]byte(`pipeline:
  segments:
    - steps_config:
        slow: {batch_size: 10, batch_time_ms: 250, average_sleep_time_ms: 4, max_sleep_time_ms: 5, parallelism: 2}
`), nil, config.WithComponents(DevNull.Spec))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(0, []config.StepInfo{{Name: "slow", Kind: "devnull_sink"}}); err != nil {
		t.Fatal(err)
	}
	sc := c.Pipeline.Segments[0].Step("slow", "devnull_sink")
	v := sc.ValuesOf(DevNull.Spec)
	if v.Int("batch_size") != 10 || v.Duration("batch_time_ms") != 250*time.Millisecond ||
		v.Duration("average_sleep_time_ms") != 4*time.Millisecond || v.Duration("max_sleep_time_ms") != 5*time.Millisecond || sc.Parallelism != 2 {
		t.Errorf("values %+v", v)
	}

	steps := []config.StepInfo{{Name: "devnull", Kind: "devnull_sink"}, {Name: "devnull2", Kind: "devnull_sink"}, {Name: "devnull3", Kind: "devnull_sink"}, {Name: "kafka", Kind: config.Sink}}
	equalProblems(t, configProblems(t, `devnull: {batch_time_ms: 0, average_sleep_time_ms: 1, batch_size: 3}
        devnull2: {max_sleep_time_ms: -1}
        devnull3: {average_sleep_time_ms: 1, max_sleep_time_ms: 2, topic: x}
        kafka: {max_sleep_time_ms: 1}`, steps, Kafka, DevNull), []string{
		`4:34: pipeline.segments[0].steps_config.devnull.batch_time_ms: must be positive; got 0`,
		`4:60: pipeline.segments[0].steps_config.devnull.average_sleep_time_ms: needs max_sleep_time_ms as well`,
		`5:39: pipeline.segments[0].steps_config.devnull2.max_sleep_time_ms: must not be negative; got -1`,
		`6:43: pipeline.segments[0].steps_config.devnull3.average_sleep_time_ms: a devnull sink sleeps when it writes a batch: needs batch_size or batch_time_ms`,
		`6:68: pipeline.segments[0].steps_config.devnull3.topic: devnull_sink step "devnull3" does not take this key; devnull_sink steps accept: average_sleep_time_ms, batch_size, batch_time_ms, max_sleep_time_ms, parallelism, starts_segment`,
		`7:17: pipeline.segments[0].steps_config.kafka.max_sleep_time_ms: sink step "kafka" does not take this key; sink steps accept: bootstrap_servers, codec, override_params, parallelism, starts_segment, topic`,
	})
}

// The docs of a component come from its spec: each key, with an example.
func TestSinkDocsListEveryKey(t *testing.T) {
	for _, s := range BuiltinSinks() {
		doc := s.Spec.Document()
		for _, k := range s.Spec.Keys {
			if !strings.Contains(doc, "\t"+k.Name+": "+k.Example) || k.Doc == "" {
				t.Errorf("%s docs lack key %s:\n%s", s.Spec.Kind, k.Name, doc)
			}
		}
	}
	if err := component.CheckSpecs([]component.Spec{Kafka.Spec, DevNull.Spec, Blob.Spec}); err != nil {
		t.Error(err)
	}
}
