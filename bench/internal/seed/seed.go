// Package seed is the benchmark's workload: the seed pipeline of
// examples/simple_map_filter (parse JSON, keep type "event", serialize)
// over a fixed record shape, as a DSL pipeline and as the plain functions
// the hand-written franz-go loop calls, so that both do the same work.
package seed

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/streams-dev/streams/dsl"
)

// Step and topic names of [Pipeline]; the benchmark's config overrides
// the topics.
const (
	SourceStep  = "input"
	SinkStep    = "output"
	InputTopic  = "bench-input"
	OutputTopic = "bench-output"
)

// Event is one input record.
type Event struct {
	Type    string `json:"type"`
	ID      int64  `json:"id"`
	User    string `json:"user"`
	TS      int64  `json:"ts"`
	Payload string `json:"payload"`
}

// Parse decodes a JSON event.
func Parse(msg []byte) (Event, error) {
	var e Event
	err := json.Unmarshal(msg, &e)
	return e, err
}

// Keep keeps the events of type "event": half of what [Record] makes.
func Keep(e Event) bool { return e.Type == "event" }

// Serialize encodes e as JSON.
func Serialize(e Event) ([]byte, error) { return json.Marshal(e) }

// Pipeline is the seed pipeline over the benchmark's topics.
var Pipeline = dsl.StreamingSource(SourceStep, InputTopic).
	Apply("parse", dsl.Map(Parse)).
	Apply("keep", dsl.Filter(Keep)).
	Apply("serialize", dsl.Map(Serialize)).
	Sink(SinkStep, dsl.StreamSink(OutputTopic))

// ValueSize is the approximate size of a [Record] value in bytes.
const ValueSize = 200

// Record returns the key and value of input record i: even i are of type
// "event" (kept), odd i are not, so that n records yield n/2 + n%2 outputs.
func Record(i int) (key, value []byte) { return RecordAt(i, 1_700_000_000_000+int64(i)) }

// RecordAt is [Record] with ts as the event's ts field, which the
// pipeline keeps: the latency benchmark puts the produce time there.
func RecordAt(i int, ts int64) (key, value []byte) {
	typ := "event"
	if i%2 == 1 {
		typ = "pageview"
	}
	user := fmt.Sprintf("user-%d", i%10007)
	head := fmt.Sprintf(`{"type":%q,"id":%d,"user":%q,"ts":%d,"payload":"`, typ, i, user, ts)
	pad := max(ValueSize-len(head)-2, 8)
	return []byte(user), []byte(head + strings.Repeat(string(rune('a'+i%26)), pad) + `"}`)
}

// Kept is how many of the records 0..n-1 [Keep] keeps.
func Kept(n int) int { return (n + 1) / 2 }
