package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

func windowedPipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "events").
		Apply("count", dsl.Reduce(dsl.TumblingWindow(time.Minute), func(b []byte) string { return string(b) }, dsl.Count[[]byte]())).
		Apply("batch", dsl.Batch[dsl.Windowed[string, int]](100, 10*time.Second)).
		Apply("other", dsl.Batch[[]dsl.Windowed[string, int]](5, 0)).
		Apply("ser", dsl.Serializer[[][]dsl.Windowed[string, int]]()).
		Sink("out", dsl.StreamSink("counts"))
}

func TestResolveBatchConfig(t *testing.T) {
	d := mustResolve(t, windowedPipeline().MustBuild(), `pipeline:
  segments:
    - steps_config:
        count: {parallelism: 2}
        batch: {batch_size: 3, batch_timedelta: {seconds: 20}}
`)
	want := map[string]beamtranslate.BatchBinding{"batch": {Size: 3, MaxWait: 20 * time.Second}}
	if len(d.bindings.Batches) != 1 || d.bindings.Batches["batch"] != want["batch"] {
		t.Errorf("batch bindings %+v, want %+v", d.bindings.Batches, want)
	}
}

func TestValidateBatchAndReduceKeys(t *testing.T) {
	cfg, err := config.Parse([]byte(`pipeline:
  segments:
    - steps_config:
        count: {batch_size: 3}
        batch: {topic: x}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate(0, StepInfos(windowedPipeline().MustBuild()))
	for _, want := range []string{
		`reduce step "count" does not take this key`,
		`batch step "batch" does not take this key; batch steps accept: batch_size, batch_timedelta, parallelism, starts_segment`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
