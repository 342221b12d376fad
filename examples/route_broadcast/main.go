// Command route_broadcast shows branching: a Router sends each parsed
// event down exactly one branch, and a Broadcast copies each message to
// every branch under it.
//
//	events ─ parse ─ route ─┬─ errors ─ serialize ─────────────> errors
//	                        └─ others ─ broadcast ─┬─ archive ──> archive
//	                                               └─ tally ────> event-types
//
//	go run ./examples/route_broadcast -n route_broadcast \
//		--config deployment_config/route_broadcast.yaml --adapter local \
//		--dev-input examples/route_broadcast/sample_events.txt --dev-print-output --dev-exit-when-done
package main

import (
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/runner"
)

// Event is one message of the events stream, validated against schema.
type Event struct {
	Type    string `json:"type"`
	Project int    `json:"project_id"`
	Message string `json:"message,omitempty"`
}

var schema = []byte(`{
  "type": "object",
  "required": ["type", "project_id"],
  "properties": {
    "type": {"type": "string"},
    "project_id": {"type": "integer", "minimum": 1},
    "message": {"type": "string"}
  }
}`)

func byType(e Event) (string, error) {
	if e.Type == "error" {
		return "errors", nil
	}
	return "others", nil
}

func typeName(e Event) ([]byte, error) { return []byte(e.Type), nil }

var pipeline = dsl.StreamingSource("events-in", "events").
	Apply("parse", dsl.Parser[Event](dsl.WithJSONSchema(schema))).
	Route("route", byType,
		dsl.Branch[Event]("errors").
			Apply("serialize-errors", dsl.Serializer[Event]()).
			Sink("errors-out", dsl.StreamSink("errors")),
		dsl.Branch[Event]("others").
			Broadcast("copy",
				dsl.Branch[Event]("archive").
					Apply("serialize-archive", dsl.Serializer[Event]()).
					Sink("archive-out", dsl.StreamSink("archive")),
				dsl.Branch[Event]("tally").
					Apply("type-name", dsl.Map(typeName)).
					Sink("types-out", dsl.StreamSink("event-types")),
			),
	)

func main() { runner.Main(pipeline) }
