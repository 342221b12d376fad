// Command windowed_counts counts events per user in 10-second event-time
// windows: it reads JSON events from the "events" stream and writes one
// result per user and window to "user-counts", when the watermark passes
// the window's end. Event time is the Kafka record's timestamp.
//
//	go run ./examples/windowed_counts -n windowed_counts \
//		--config deployment_config/windowed_counts.yaml
package main

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/runner"
)

// Event is one message of the events stream.
type Event struct {
	User   string `json:"user"`
	Action string `json:"action"`
}

// parse decodes a JSON event; one without a user is rejected (to the
// dead-letter queue, with the cause).
func parse(msg []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(msg, &e); err != nil {
		return e, err
	}
	if e.User == "" {
		return e, errors.New("event without a user")
	}
	return e, nil
}

func user(e Event) string { return e.User }

var pipeline = dsl.StreamingSource("events", "events").
	Apply("parse", dsl.Map(parse)).
	Apply("count", dsl.Reduce(dsl.TumblingWindow(10*time.Second), user, dsl.Count[Event]())).
	Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
	Sink("user-counts", dsl.StreamSink("user-counts"))

func main() { runner.Main(pipeline) }
