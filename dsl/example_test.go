package dsl_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/streams-dev/streams/dsl"
)

type Event struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data,omitempty"`
}

func parse(b []byte) (Event, error) {
	var e Event
	err := json.Unmarshal(b, &e)
	return e, err
}

func isEvent(e Event) bool { return e.Type == "event" }

// The seed pipeline of the Getting Started, run step by step by hand (a
// runner does the same for every record of the source).
func Example() {
	pipeline := dsl.StreamingSource("myinput", "events").
		Apply("mymap", dsl.Map(parse)).
		Apply("myfilter", dsl.Filter(isEvent)).
		Apply("serializer", dsl.Serializer[Event]()).
		Sink("myoutput", dsl.StreamSink("transformed-events"))

	g, err := pipeline.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, in := range []string{`{"type": "event", "data": {"foo": "bar"}}`, `{"type": "other"}`, `not json`} {
		msgs := []dsl.Any{{Payload: []byte(in), Timestamp: time.Unix(0, 0)}}
		for _, n := range g.Nodes()[1 : len(g.Nodes())-1] {
			var next []dsl.Any
			for _, m := range msgs {
				if err := n.Process(m, func(o dsl.Any) { next = append(next, o) }); err != nil {
					fmt.Println("rejected:", err)
				}
			}
			msgs = next
		}
		for _, m := range msgs {
			fmt.Printf("to %s: %s\n", g.Node("myoutput").StreamName(), m.Payload)
		}
	}
	// Output:
	// to transformed-events: {"type":"event","data":{"foo":"bar"}}
	// rejected: step mymap: invalid message: invalid character 'o' in literal null (expecting 'u')
}

// Build reports every mistake at once.
func ExamplePipeline_Build() {
	_, err := dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[Event]()).
		Broadcast("fanout",
			dsl.Branch[Event]("a").Apply("parse", dsl.Serializer[Event]()).Sink("out", dsl.StreamSink("x")),
			dsl.Branch[Event]("b").Apply("keep", dsl.Filter(isEvent)),
		).Build()
	fmt.Println(err)
	// Output:
	// dsl: invalid pipeline:
	//   duplicate step name "parse"
	//   branch "b" ends at step "keep" without a sink
}
