package runner

import (
	"reflect"
	"testing"
	"time"

	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/dsl"
)

// TestResolveDevNullAndStrictOffsetReset: a devnull sink's batch and
// sleep keys and the source's strict_offset_reset reach the bindings the
// translation reads (they were accepted and dropped before).
func TestResolveDevNullAndStrictOffsetReset(t *testing.T) {
	g := dsl.StreamingSource("in", "events").
		Broadcast("copy",
			dsl.Branch[[]byte]("a").Sink("slow", dsl.DevNullSink[[]byte]()),
			dsl.Branch[[]byte]("b").Sink("fast", dsl.DevNullSink[[]byte]())).
		MustBuild()
	d := mustResolve(t, g, `pipeline:
  segments:
    - steps_config:
        in: {strict_offset_reset: true}
        slow: {batch_size: 10, batch_time_ms: 250, average_sleep_time_ms: 4, max_sleep_time_ms: 5}
`)
	if !d.bindings.Source.StrictOffsetReset {
		t.Errorf("source binding %+v: StrictOffsetReset not set", d.bindings.Source)
	}
	want := map[string]component.Values{
		"slow": {"batch_size": component.IntValue(10), "batch_time_ms": component.MillisValue(250 * time.Millisecond),
			"average_sleep_time_ms": component.MillisValue(4 * time.Millisecond), "max_sleep_time_ms": component.MillisValue(5 * time.Millisecond)},
		"fast": {},
	}
	if !reflect.DeepEqual(d.bindings.Values, want) {
		t.Errorf("devnull values %+v, want %+v", d.bindings.Values, want)
	}
}
