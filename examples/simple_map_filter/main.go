// Command simple_map_filter is the Getting Started pipeline: it reads JSON
// events from the "events" stream, keeps those whose type is "event", and
// writes them to "transformed-events".
//
//	go run ./examples/simple_map_filter -n simple_map_filter \
//		--config deployment_config/simple_map_filter.yaml --adapter local
package main

import (
	"encoding/json"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/runner"
)

// Event is one message of the events stream.
type Event struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data,omitempty"`
}

// parse decodes a JSON event. A message that is not JSON is rejected: it
// goes to the dead-letter queue, if one is configured, with the cause.
func parse(msg []byte) (Event, error) {
	var e Event
	err := json.Unmarshal(msg, &e)
	return e, err
}

func filterNotEvent(e Event) bool { return e.Type == "event" }

func serialize(e Event) ([]byte, error) { return json.Marshal(e) }

var pipeline = dsl.StreamingSource("myinput", "events").
	Apply("mymap", dsl.Map(parse)).
	Apply("myfilter", dsl.Filter(filterNotEvent)).
	Apply("serializer", dsl.Map(serialize)).
	Sink("myoutput", dsl.StreamSink("transformed-events"))

func main() { runner.Main(pipeline) }
