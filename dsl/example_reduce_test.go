package dsl_test

import (
	"fmt"
	"time"

	"github.com/streams-dev/streams/dsl"
)

// A count of events per type in 10-second windows, written to Kafka as
// JSON, and what a runner emits for one window.
func ExampleReduce() {
	pipeline := dsl.StreamingSource("myinput", "events").
		Apply("parse", dsl.Parser[Event]()).
		Apply("count", dsl.Reduce(dsl.TumblingWindow(10*time.Second),
			func(e Event) string { return e.Type }, dsl.Count[Event]())).
		Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
		Sink("myoutput", dsl.StreamSink("event-counts"))
	g, err := pipeline.Build()
	if err != nil {
		fmt.Println(err)
		return
	}

	// A runner folds the window's payloads with the accumulator and asks
	// for the output message when the window closes.
	r := g.Node("count").Reducer()
	acc, _ := r.NewAccumulator()
	for range 3 {
		acc, _ = r.Add(acc, Event{Type: "click"})
	}
	start := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	m, _ := r.Output("click", dsl.Bounds{Start: start, End: start.Add(10 * time.Second)}, acc)
	_ = g.Node("serialize").Process(m, func(out dsl.Any) {
		fmt.Printf("key %s, timestamp %s\n%s\n", out.Key, out.Timestamp.Format(time.RFC3339Nano), out.Payload)
	})
	// Output:
	// key click, timestamp 2024-01-01T12:00:09.999Z
	// {"key":"click","start":"2024-01-01T12:00:00Z","end":"2024-01-01T12:00:10Z","value":3}
}

// The windows a message belongs to, by its event time.
func ExampleWindow_Assign() {
	t := time.Date(2024, 1, 1, 12, 0, 7, 0, time.UTC)
	for _, w := range []dsl.Window{
		dsl.TumblingWindow(10 * time.Second),
		dsl.SlidingWindow(10*time.Second, 5*time.Second),
		dsl.SessionWindow(30 * time.Second),
	} {
		fmt.Println(w, w.Assign(t))
	}
	// Output:
	// tumbling(10s) [[2024-01-01T12:00:00Z, 2024-01-01T12:00:10Z)]
	// sliding(10s every 5s) [[2024-01-01T12:00:00Z, 2024-01-01T12:00:10Z) [2024-01-01T12:00:05Z, 2024-01-01T12:00:15Z)]
	// session(gap 30s) [[2024-01-01T12:00:07Z, 2024-01-01T12:00:37Z)]
}

// Batches of up to 100 events, or fewer after 5 seconds.
func ExampleBatch() {
	g := dsl.StreamingSource("myinput", "events").
		Apply("parse", dsl.Parser[Event]()).
		Apply("batch", dsl.Batch[Event](100, 5*time.Second)).
		Apply("serialize", dsl.Serializer[[]Event]()).
		Sink("myoutput", dsl.StreamSink("event-batches")).
		MustBuild()
	b := g.Node("batch").Batcher()
	fmt.Println(g.Node("batch").Kind(), b.Size(), b.MaxWait(), b.PerKey())
	// Output:
	// batch 100 5s false
}
