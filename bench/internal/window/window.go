// Package window is the stateful benchmark's workload: JSON events with a
// key (one of [Keys]) and a value, counted and summed per key in
// [Size] tumbling event-time windows, as a DSL pipeline ([Pipeline]) and
// as the plain functions and types the hand-written franz-go loop uses, so
// that both do the same work and write the same results.
package window

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/streams-dev/streams/dsl"
)

// Step and topic names of [Pipeline]; the benchmark's config overrides
// the topics.
const (
	SourceStep  = "input"
	SinkStep    = "output"
	InputTopic  = "bench-window-input"
	OutputTopic = "bench-window-output"
)

// Size is the length of the tumbling windows, aligned to the Unix epoch.
const Size = 10 * time.Second

// Keys is the number of distinct keys [Make] uses.
const Keys = 10_000

// ValueSize is the approximate size of a [Make] value in bytes.
const ValueSize = 150

// Event is the part of an input record the aggregation reads; the rest of
// the JSON object is skipped by [Parse].
type Event struct {
	Key   string `json:"key"`
	Value int64  `json:"value"`
}

// Parse decodes a JSON event.
func Parse(msg []byte) (Event, error) {
	var e Event
	err := json.Unmarshal(msg, &e)
	return e, err
}

// Stats is the aggregate of one key and window: how many events, and the
// sum of their values. It is both the accumulator and the result.
type Stats struct {
	Count int64 `json:"count"`
	Sum   int64 `json:"sum"`
}

// Add adds one event.
func (s Stats) Add(e Event) Stats { return Stats{Count: s.Count + 1, Sum: s.Sum + e.Value} }

// Merge adds up two aggregates.
func (s Stats) Merge(o Stats) Stats { return Stats{Count: s.Count + o.Count, Sum: s.Sum + o.Sum} }

// CountSum is the Reduce accumulator: count and sum of the values.
var CountSum = dsl.Accumulator[Event, Stats, Stats]{
	Add:    Stats.Add,
	Merge:  Stats.Merge,
	Result: func(s Stats) Stats { return s },
}

// Result is one output record's JSON: {"key": "k42", "start": RFC 3339,
// "end": RFC 3339, "value": {"count": 40, "sum": 19980}}.
type Result = dsl.Windowed[string, Stats]

func key(e Event) string { return e.Key }

// AggregateStep is the name of [Pipeline]'s Reduce.
const AggregateStep = "aggregate"

// Pipeline parses, counts and sums per key in [Size] windows of the
// record timestamp, and writes each window's results as JSON.
//
// Its Reduce declares [dsl.KeyFollowsPartitioning]: the benchmark
// produces every event of a key to one partition, with the key as the
// record key, so on the bundled runner the windows are kept per source
// partition (partition tasks), and a durable run also writes them to the
// changelog topic <group>-<SourceStep>-changelog, as users run it.
var Pipeline = dsl.StreamingSource(SourceStep, InputTopic).
	Apply("parse", dsl.Map(Parse)).
	Apply(AggregateStep, dsl.Reduce(dsl.TumblingWindow(Size), key, CountSum, dsl.KeyFollowsPartitioning[Event]())).
	Apply("serialize", dsl.Serializer[Result]()).
	Sink(SinkStep, dsl.StreamSink(OutputTopic))

// ShufflePipeline is [Pipeline] with a Reduce that does not declare
// [dsl.KeyFollowsPartitioning]: on the bundled runner its input goes
// through the shuffle topic <group>-aggregate-shuffle, keyed by the key,
// and its windows are kept per partition of that topic, as they are for
// a key the partitioning does not follow (a payload field).
var ShufflePipeline = dsl.StreamingSource(SourceStep, InputTopic).
	Apply("parse", dsl.Map(Parse)).
	Apply(AggregateStep, dsl.Reduce(dsl.TumblingWindow(Size), key, CountSum)).
	Apply("serialize", dsl.Serializer[Result]()).
	Sink(SinkStep, dsl.StreamSink(OutputTopic))

// Make returns input record i: its event and the JSON value, about
// [ValueSize] bytes with fields the aggregation does not read. Keys cycle
// through k0 .. k9999, values through 0 .. 999.
func Make(i int) (Event, []byte) {
	e := Event{Key: fmt.Sprintf("k%d", i%Keys), Value: int64(i*7919) % 1000}
	head := fmt.Sprintf(`{"key":%q,"value":%d,"id":%d,"source":"bench","payload":"`, e.Key, e.Value, i)
	pad := max(ValueSize-len(head)-2, 8)
	return e, []byte(head + strings.Repeat(string(rune('a'+i%26)), pad) + `"}`)
}

// ID names one result: a key and the start of its window.
type ID struct {
	Key   string
	Start time.Time // UTC, whole milliseconds
}

// Start is the start of the window of event time t, which is truncated
// to the millisecond as in Kafka.
func Start(t time.Time) time.Time { return time.UnixMilli(StartMilli(t.UnixMilli())).UTC() }

// StartMilli is the start of the window of event time ms, both in
// milliseconds since the Unix epoch.
func StartMilli(ms int64) int64 {
	size := Size.Milliseconds()
	return ms - (ms%size+size)%size
}

// Expected is what a correct pipeline outputs for the events added to it.
type Expected map[ID]Stats

// Add adds event e with event time t.
func (x Expected) Add(e Event, t time.Time) {
	id := ID{Key: e.Key, Start: Start(t)}
	x[id] = x[id].Add(e)
}

// Decode decodes an output record's value.
func Decode(value []byte) (ID, Result, error) {
	var r Result
	if err := json.Unmarshal(value, &r); err != nil {
		return ID{}, r, err
	}
	if r.End.Sub(r.Start) != Size {
		return ID{}, r, fmt.Errorf("window [%v, %v) is not %v long", r.Start, r.End, Size)
	}
	return ID{Key: r.Key, Start: r.Start.UTC()}, r, nil
}
