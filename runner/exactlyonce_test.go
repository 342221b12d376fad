package runner

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

// processing_guarantee: exactly_once marks the source, every Kafka sink
// and the DLQ transactional; what it cannot give yet is refused with an
// error that says why, never run at least once under its name.
func TestExactlyOnceConfig(t *testing.T) {
	yaml := func(src, rest string) string {
		return fmt.Sprintf("pipeline:\n  segments:\n    - steps_config:\n        %s: {processing_guarantee: exactly_once, dlq: {topic: bad}}\n%s", src, rest)
	}
	g := seedPipeline().MustBuild()
	d := mustResolve(t, g, yaml("myinput", ""))
	if err := exactlyOnce(g, d, AdapterLocal); err != nil {
		t.Fatal(err)
	}
	if !d.bindings.Source.ExactlyOnce {
		t.Error("the source binding is not exactly-once")
	}
	refused := func(what string, d *deployment, adapter, want string) {
		t.Helper()
		if err := exactlyOnce(g, d, adapter); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", what, err, want)
		}
	}
	refused("beam adapter", mustResolve(t, g, yaml("myinput", "")), AdapterBeam, "needs the bundled runner")
	refused("sink elsewhere", mustResolve(t, g, yaml("myinput", "        myoutput: {bootstrap_servers: [\"elsewhere:9092\"]}\n")),
		AdapterLocal, "every Kafka sink on the source's cluster")
	d = mustResolve(t, g, yaml("myinput", ""))
	d.bindings.Source.DLQ.Client.Brokers = []string{"elsewhere:9092"}
	refused("dlq elsewhere", d, AdapterLocal, "dead-letter queue on the source's cluster")
	wg := windowedPipeline().MustBuild()
	if err := exactlyOnce(wg, mustResolve(t, wg, yaml("in", "")), AdapterLocal); err == nil || !strings.Contains(err.Error(), "not supported yet with Batch steps") {
		t.Errorf("batch steps: %v", err)
	}
	rg := dsl.StreamingSource("in", "events").
		Apply("count", dsl.Reduce(dsl.TumblingWindow(time.Minute), func(b []byte) string { return string(b) }, dsl.Count[[]byte]())).
		Apply("ser", dsl.Serializer[dsl.Windowed[string, int]]()).
		Sink("out", dsl.StreamSink("counts")).MustBuild()
	if err := exactlyOnce(rg, mustResolve(t, rg, yaml("in", "")), AdapterLocal); err != nil {
		t.Errorf("a windowed Reduce: %v, want it accepted", err)
	}

	// A transaction must outlive the commit interval that ends it.
	_, err := config.Parse([]byte(`pipeline:
  segments:
    - steps_config:
        myinput:
          processing_guarantee: exactly_once
          commit_interval_ms: 5000
          commit_records: 100
          override_params: {transaction.timeout.ms: "4000"}
`), nil)
	if err == nil || !strings.Contains(err.Error(), "transaction timeout (4s) must exceed the commit interval (5s)") {
		t.Errorf("Parse: %v, want the transaction timeout refused", err)
	}
	if err == nil || !strings.Contains(err.Error(), "commit_records: exactly_once ends a transaction on commit_interval_ms only") {
		t.Errorf("Parse: %v, want commit_records refused", err)
	}
	_, err = config.Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        myinput: {processing_guarantee: twice}\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "exactly_once") {
		t.Errorf("an unknown guarantee: %v", err)
	}
}
