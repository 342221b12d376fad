package localrunner_test

import (
	"context"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

// TestDevNullBatchesAndSleeps runs a DSL pipeline into a devnull sink
// with the deployment config's batch and sleep settings and reads their
// effect from the Beam metrics, without timing anything: 20 messages in
// batches of 3 are 6 batches written, each with a sleep chosen in
// [0.5, 1.5] x average_sleep_time_ms, capped at max_sleep_time_ms; a
// tiny batch_time_ms writes batches with no batch_size; without settings
// there are no batches.
func TestDevNullBatchesAndSleeps(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	produce(t, cl, "v", 20)
	end := ends(t, adm, "in")
	for _, tc := range []struct {
		name         string
		v            component.Values
		batches      func(int64) bool
		sleeps       int64
		minUS, maxUS int64
	}{
		{name: "none", batches: func(n int64) bool { return n == 0 }},
		{name: "size", v: component.Values{"batch_size": component.IntValue(3),
			"average_sleep_time_ms": component.MillisValue(2 * time.Millisecond), "max_sleep_time_ms": component.MillisValue(2500 * time.Microsecond)},
			batches: func(n int64) bool { return n == 6 }, sleeps: 6, minUS: 1000, maxUS: 2500},
		{name: "time", v: component.Values{"batch_time_ms": component.MillisValue(time.Microsecond)},
			batches: func(n int64) bool { return n >= 1 && n <= 20 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := dsl.StreamingSource("in", "in").Sink("null", dsl.DevNullSink[[]byte]()).MustBuild()
			group := "devnull-" + tc.name
			b := beamtranslate.Bindings{
				Source: beamtranslate.SourceBinding{Client: kafka.ClientConfig{Brokers: c.ListenAddrs()}, Topic: "in",
					Group: group, StartOffset: kafka.StartEarliest, IdleDelay: 50 * time.Millisecond},
				Values: map[string]component.Values{"null": tc.v},
			}
			p, err := beamtranslate.Translate(group, g, b)
			if err != nil {
				t.Fatal(err)
			}
			res := runToCommitted(t, p, adm, group, end, localrunner.WithParallelism(1), localrunner.WithKafkaCommit(50*time.Millisecond, 1))
			q := func(name string) metrics.QueryResults {
				return res.Metrics().Query(func(r metrics.SingleResult) bool { return r.Namespace() == "streams" && r.Name() == name })
			}
			var msgs, batches int64
			for _, c := range q("devnull_messages").Counters() {
				msgs += c.Result()
			}
			for _, c := range q("devnull_batches").Counters() {
				batches += c.Result()
			}
			var sleeps, minUS, maxUS int64
			for _, d := range q("devnull_sleep_us").Distributions() {
				sleeps, minUS, maxUS = d.Result().Count, d.Result().Min, d.Result().Max
			}
			t.Logf("messages %d, batches %d, sleeps %d in [%d, %d] µs", msgs, batches, sleeps, minUS, maxUS)
			if msgs != 20 || !tc.batches(batches) || sleeps != tc.sleeps {
				t.Errorf("messages %d, batches %d, sleeps %d; want 20 messages, %d sleeps", msgs, batches, sleeps, tc.sleeps)
			}
			if sleeps > 0 && (minUS < tc.minUS || maxUS > tc.maxUS) {
				t.Errorf("sleeps in [%d, %d] µs, want within [%d, %d]", minUS, maxUS, tc.minUS, tc.maxUS)
			}
		})
	}
}

// runToCommitted runs p on the local runner until group has committed
// the end offsets of "in", then stops it and returns its result.
func runToCommitted(t *testing.T, p *beam.Pipeline, adm *kadm.Client, group string, end map[int32]int64, opts ...localrunner.Option) beam.PipelineResult {
	t.Helper()
	r, err := localrunner.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type ran struct {
		res beam.PipelineResult
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := r.Run(ctx, p)
		done <- ran{res, err}
	}()
	var out ran
	finished := false
	waitFor(t, "commits at the end of the input", time.Minute, func() bool {
		select {
		case out = <-done:
			finished = true
			return true
		default:
		}
		cm := commits(context.Background(), adm, group)
		return cm[0] == end[0] && cm[1] == end[1]
	})
	if finished {
		t.Fatalf("Run ended before the input was committed: %v", out.err)
	}
	cancel()
	out = <-done
	if out.res == nil {
		t.Fatalf("Run: %v, and no result", out.err)
	}
	return out.res
}
