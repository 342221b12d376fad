// Package conformance is one suite of pipelines that every runner must
// run with the same results.
//
// Each Case is a pipeline defined once, the records fed to its source and
// the records each sink topic (and the dead-letter topic) must receive.
// Run executes a case end to end through a real Kafka broker (an
// in-process kfake, or the cluster named by STREAMS_TEST_KAFKA) on a
// runner chosen by name, and compares what arrives with what is expected,
// as multisets: runners may reorder across partitions.
//
// Runners today: "prism" (the Beam adapter on Beam's prism runner, the
// oracle), "local" (the bundled runner, package localrunner, with its
// native Kafka source) and "local-portable" (the bundled runner running
// io/kafka's portable splittable-DoFn read). A case a runner cannot run
// yet is skipped on it, with the reason ([Case.SkipReason]).
//
// # Event time
//
// The windowed cases give their input records timestamps in the past
// (2024) and read one partition. The Kafka read's watermark follows the
// record timestamps, and jumps to the current time once the partition is
// idle, so every window closes when the input is read. One partition,
// because prism keeps one watermark per splittable DoFn rather than the
// minimum over partitions (see io/kafka): with two, one partition's
// watermark could make the other's records late, and they would be
// dropped.
//
// # Blob sinks
//
// A case with a blob sink says what it must write ([BlobWant]): Run
// points the sink at a new file:// directory through its bucket key and,
// once the run is over, reads every object back. Runners cut batches
// apart differently, so what is compared is what they agree on: the
// items of all objects together (lines, Parquet rows), each object
// whole (decodable), within its bound and named by the template; or,
// where each object is one window, the objects themselves.
package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/streams-dev/streams/dsl"
)

// Record is an input or expected output record.
type Record struct {
	Key   string
	Value string
	// Headers of an input record are produced with it. Headers of an
	// expected record must be on the output record with these values;
	// other headers are not checked.
	Headers map[string]string
	// Timestamp of an input record is its Kafka timestamp (zero: the
	// time it is produced). An expected record's, when not zero, must be
	// the output record's, to the millisecond.
	Timestamp time.Time
}

// DLQ is the stream name under which a case's expected dead-letter
// records are listed.
const DLQ = "dlq"

// Case is one conformance pipeline.
type Case struct {
	Name string
	// Pipeline defines the pipeline. Its source and sink stream names are
	// logical: Run maps them to topics of its own.
	Pipeline func() dsl.Pipeline
	// DLQ configures a dead-letter topic for the source.
	DLQ bool
	// Steps adds steps_config keys, by step name.
	Steps map[string]map[string]any
	// Input is produced to the source stream, in order, before the run.
	Input []Record
	// Want lists the records expected on each sink stream (and under DLQ).
	// Every sink stream of the pipeline is checked, listed or not.
	Want map[string][]Record
	// Partitions is the number of partitions of the case's topics;
	// default 2.
	Partitions int
	// Blobs lists what each blob sink must write, by sink step name;
	// every blob sink of the pipeline must be listed. Run points each at
	// a directory of its own (the file driver), through its bucket key.
	Blobs map[string]BlobWant
	// Skip lists the runners that cannot run the case yet, each with the
	// reason; Run skips the case on them.
	Skip map[string]string
}

// SkipReason says why runner cannot run c yet ("" when it can).
func (c Case) SkipReason(runner string) string { return c.Skip[runner] }

func (c Case) partitions() int32 {
	if c.Partitions > 0 {
		return int32(c.Partitions)
	}
	return 2
}

// Cases returns every case.
func Cases() []Case {
	return []Case{
		seedCase(),
		flatMapCase(),
		routeCase(),
		broadcastCase(),
		parserCase(),
		metadataCase(),
		headersFilterCase(),
		skipInvalidCase(),
		dlqFloodCase(),
		tumblingCountCase(),
		slidingSumCase(),
		sessionCase(),
		reduceTwiceCase(),
		reduceAllCase(),
		reduceAllPartitionsCase(),
		batchByKeyCase(),
		batchConfigCase(),
		tumblingCountWindowCase(),
		tumblingCountWindowEOSCase(),
		slidingCountWindowCase(),
		msgpackCase(),
		msgpackSinkCase(),
		protobufCase(),
		schemaDirCase(),
		batchParserCase(),
		blobSinkCase(),
		parquetSerializerCase(),
		windowedParquetCase(),
	}
}

type event struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data,omitempty"`
}

func parseEvent(b []byte) (event, error) {
	var e event
	err := json.Unmarshal(b, &e)
	return e, err
}

func serializeEvent(e event) ([]byte, error) { return json.Marshal(e) }

// seedCase is the Getting Started pipeline.
func seedCase() Case {
	return Case{
		Name: "seed_map_filter",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("myinput", "events").
				Apply("mymap", dsl.Map(parseEvent)).
				Apply("myfilter", dsl.Filter(func(e event) bool { return e.Type == "event" })).
				Apply("serializer", dsl.Map(serializeEvent)).
				Sink("myoutput", dsl.StreamSink("transformed-events"))
		},
		DLQ: true,
		Input: []Record{
			{Value: `{"type": "event", "data": {"foo": "bar"}}`},
			{Value: `{"type": "transaction"}`},
			{Value: `{"type": "event", "data": {"n": 2}}`},
			{Value: `{oops`},
		},
		Want: map[string][]Record{
			"transformed-events": {
				{Value: `{"type":"event","data":{"foo":"bar"}}`},
				{Value: `{"type":"event","data":{"n":2}}`},
			},
			DLQ: {{Value: `{oops`, Headers: map[string]string{
				"streams.dlq.step":  "mymap",
				"streams.dlq.error": "step mymap: invalid message: invalid character 'o' looking for beginning of object key string",
			}}},
		},
	}
}

func flatMapCase() Case {
	return Case{
		Name: "flat_map",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "words").
				Apply("split", dsl.FlatMap(func(b []byte) ([][]byte, error) {
					if len(b) == 0 {
						return nil, errors.New("empty line")
					}
					var out [][]byte
					for w := range strings.FieldsSeq(string(b)) {
						out = append(out, []byte(strings.ToUpper(w)))
					}
					return out, nil
				})).
				Sink("out", dsl.StreamSink("upper-words"))
		},
		Input: []Record{{Key: "a", Value: "hello streaming world"}, {Key: "b", Value: "one"}, {Key: "c", Value: "   "}},
		Want: map[string][]Record{
			"upper-words": {{Key: "a", Value: "HELLO"}, {Key: "a", Value: "STREAMING"}, {Key: "a", Value: "WORLD"}, {Key: "b", Value: "ONE"}},
		},
	}
}

func routeCase() Case {
	return Case{
		Name: "route",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "events").
				Apply("parse", dsl.Parser[event]()).
				Route("by-type", func(e event) (string, error) {
					if e.Type == "error" {
						return "errors", nil
					}
					return "others", nil
				},
					dsl.Branch[event]("errors").
						Apply("ser-errors", dsl.Serializer[event]()).
						Sink("errors-out", dsl.StreamSink("errors")),
					dsl.Branch[event]("others").
						Apply("only-known", dsl.Filter(func(e event) bool { return e.Type != "" })).
						Apply("ser-others", dsl.Serializer[event]()).
						Sink("others-out", dsl.StreamSink("others")),
				)
		},
		Input: []Record{
			{Value: `{"type":"error","data":{"code":500}}`},
			{Value: `{"type":"event"}`},
			{Value: `{"type":"error"}`},
			{Value: `{}`},
		},
		Want: map[string][]Record{
			"errors": {{Value: `{"type":"error","data":{"code":500}}`}, {Value: `{"type":"error"}`}},
			"others": {{Value: `{"type":"event"}`}},
		},
	}
}

func broadcastCase() Case {
	return Case{
		Name: "broadcast",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "events").
				Broadcast("fan-out",
					dsl.Branch[[]byte]("hello").
						Apply("say-hello", dsl.Map(func(b []byte) ([]byte, error) { return append([]byte("hello "), b...), nil })).
						Sink("hello-out", dsl.StreamSink("hello")),
					dsl.Branch[[]byte]("goodbye").
						Apply("say-goodbye", dsl.Map(func(b []byte) ([]byte, error) { return append([]byte("goodbye "), b...), nil })).
						Sink("goodbye-out", dsl.StreamSink("goodbye")),
					dsl.Branch[[]byte]("count").Sink("discard", dsl.DevNullSink[[]byte]()),
				)
		},
		Input: []Record{{Value: "ada"}, {Value: "grace"}},
		Want: map[string][]Record{
			"hello":   {{Value: "hello ada"}, {Value: "hello grace"}},
			"goodbye": {{Value: "goodbye ada"}, {Value: "goodbye grace"}},
		},
	}
}

var metricSchema = []byte(`{
  "type": "object",
  "required": ["name", "value"],
  "properties": {"name": {"type": "string"}, "value": {"type": "number"}}
}`)

type metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

func parserCase() Case {
	return Case{
		Name: "parser_rejects_invalid_json",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "metrics").
				Apply("parse", dsl.Parser[metric](dsl.WithJSONSchema(metricSchema))).
				Apply("double", dsl.Map(func(m metric) (metric, error) { m.Value *= 2; return m, nil })).
				Apply("serialize", dsl.Serializer[metric]()).
				Sink("out", dsl.StreamSink("doubled"))
		},
		DLQ: true,
		Input: []Record{
			{Key: "k1", Value: `{"name":"cpu","value":1.5}`},
			{Key: "k2", Value: `not json`, Headers: map[string]string{"trace": "t-2"}},
			{Key: "k3", Value: `{"name":"cpu"}`},
			{Key: "k4", Value: `{"name":"mem","value":4}`},
		},
		Want: map[string][]Record{
			"doubled": {{Key: "k1", Value: `{"name":"cpu","value":3}`}, {Key: "k4", Value: `{"name":"mem","value":8}`}},
			DLQ: {
				{Key: "k2", Value: `not json`, Headers: map[string]string{"trace": "t-2", "streams.dlq.step": "parse"}},
				{Key: "k3", Value: `{"name":"cpu"}`, Headers: map[string]string{"streams.dlq.step": "parse"}},
			},
		},
	}
}

func metadataCase() Case {
	return Case{
		Name: "headers_and_keys_preserved",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "raw").
				Apply("upper", dsl.Map(func(b []byte) (string, error) { return strings.ToUpper(string(b)), nil })).
				Apply("tag", dsl.MapMessage(func(m dsl.Message[string]) (dsl.Message[string], error) {
					return m.WithHeader("seen-by", []byte("tag")), nil
				})).
				Apply("rekey", dsl.MapMessage(func(m dsl.Message[string]) (dsl.Message[[]byte], error) {
					key := m.Key
					if len(key) == 0 {
						key = []byte("none")
					}
					return dsl.Message[[]byte]{Payload: []byte(m.Payload), Key: key, Headers: m.Headers, Timestamp: m.Timestamp}, nil
				})).
				Sink("out", dsl.StreamSink("cooked"))
		},
		Input: []Record{
			{Key: "user-1", Value: "a", Headers: map[string]string{"trace": "1", "tenant": "x"}},
			{Value: "b", Headers: map[string]string{"trace": "2"}},
		},
		Want: map[string][]Record{
			"cooked": {
				{Key: "user-1", Value: "A", Headers: map[string]string{"trace": "1", "tenant": "x", "seen-by": "tag"}},
				{Key: "none", Value: "B", Headers: map[string]string{"trace": "2", "seen-by": "tag"}},
			},
		},
	}
}

// headersFilterCase keeps the records of projects 42 and 43 by their
// project_id header, as Sentry Streams' HeadersFilter does: a record with
// another project, an empty header or none is dropped; one whose header
// is not an integer goes to the dead-letter queue.
func headersFilterCase() Case {
	return Case{
		Name: "headers_filter",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "events").
				Apply("project", dsl.HeadersFilter[[]byte]("project_id", 42, 43)).
				Apply("tag", dsl.Map(func(b []byte) ([]byte, error) { return append([]byte("kept "), b...), nil })).
				Sink("out", dsl.StreamSink("project-events"))
		},
		DLQ: true,
		Input: []Record{
			{Key: "a", Value: "a", Headers: map[string]string{"project_id": "42"}},
			{Key: "b", Value: "b", Headers: map[string]string{"project_id": "7"}},
			{Key: "c", Value: "c"},
			{Key: "d", Value: "d", Headers: map[string]string{"project_id": ""}},
			{Key: "e", Value: "e", Headers: map[string]string{"project_id": "+43", "trace": "t-e"}},
			{Key: "f", Value: "f", Headers: map[string]string{"project_id": "forty-two"}},
		},
		Want: map[string][]Record{
			"project-events": {
				{Key: "a", Value: "kept a", Headers: map[string]string{"project_id": "42"}},
				{Key: "e", Value: "kept e", Headers: map[string]string{"project_id": "+43", "trace": "t-e"}},
			},
			DLQ: {{Key: "f", Value: "f", Headers: map[string]string{
				"project_id":        "forty-two",
				"streams.dlq.step":  "project",
				"streams.dlq.error": `step project: invalid message: header project_id: value "forty-two" is not a decimal integer`,
			}}},
		},
	}
}

// skipInvalidCase has no dead-letter queue: the step's on_invalid: skip
// policy drops what it rejects and the pipeline goes on.
func skipInvalidCase() Case {
	c := seedCase()
	c.Name = "skip_invalid_without_dlq"
	c.DLQ = false
	c.Steps = map[string]map[string]any{"mymap": {"on_invalid": "skip"}}
	delete(c.Want, DLQ)
	return c
}

// dlqFloodCase interleaves a flood of bad messages with good ones: every
// good one must come through and every bad one reach the dead-letter
// topic.
func dlqFloodCase() Case {
	c := Case{
		Name: "dlq_flood",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "events").
				Apply("parse", dsl.Map(parseEvent)).
				Apply("serialize", dsl.Map(serializeEvent)).
				Sink("out", dsl.StreamSink("parsed"))
		},
		DLQ:  true,
		Want: map[string][]Record{},
	}
	for i := range 2200 {
		if i%11 == 10 {
			v := fmt.Sprintf(`{"type":"event","data":{"n":%d}}`, i)
			c.Input = append(c.Input, Record{Value: v})
			c.Want["parsed"] = append(c.Want["parsed"], Record{Value: v})
			continue
		}
		v := fmt.Sprintf("garbage %d", i)
		c.Input = append(c.Input, Record{Value: v})
		c.Want[DLQ] = append(c.Want[DLQ], Record{Value: v, Headers: map[string]string{"streams.dlq.step": "parse"}})
	}
	return c
}

// String names a record for failure messages.
func (r Record) String() string {
	s := fmt.Sprintf("%q", r.Value)
	if r.Key != "" {
		s = fmt.Sprintf("%s=%s", r.Key, s)
	}
	if len(r.Headers) > 0 {
		s += fmt.Sprintf(" %v", r.Headers)
	}
	if !r.Timestamp.IsZero() {
		s += " @" + r.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return s
}

// epoch is the event time the windowed cases count from.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return epoch.Add(d) }

// windowed is the JSON of a Reduce result, and its record's timestamp:
// the window's end minus 1ms.
func windowed(key string, start, end time.Duration, value string) Record {
	return Record{
		Key: key,
		Value: fmt.Sprintf(`{"key":%q,"start":%q,"end":%q,"value":%s}`, key,
			at(start).Format(time.RFC3339), at(end).Format(time.RFC3339), value),
		Timestamp: at(end - time.Millisecond),
	}
}

type visit struct {
	User string `json:"user"`
	Page string `json:"page"`
}

func visitRecord(user, page string, t time.Duration) Record {
	return Record{Key: user, Value: fmt.Sprintf(`{"user":%q,"page":%q}`, user, page), Timestamp: at(t)}
}

func userOf(v visit) string { return v.User }

// tumblingCountCase counts visits per user in 10-second windows. The
// record at 9.999s is the last of the first window, the one at 10s the
// first of the second.
func tumblingCountCase() Case {
	return Case{
		Name:       "reduce_tumbling_count",
		Partitions: 1,
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "visits").
				Apply("parse", dsl.Parser[visit]()).
				Apply("count", dsl.Reduce(dsl.TumblingWindow(10*time.Second), userOf, dsl.Count[visit]())).
				Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
				Sink("out", dsl.StreamSink("visit-counts"))
		},
		DLQ: true,
		Input: []Record{
			visitRecord("a", "/", 0),
			visitRecord("a", "/x", 3*time.Second),
			visitRecord("b", "/", 4*time.Second),
			{Key: "bad", Value: `not json`, Timestamp: at(5 * time.Second)},
			visitRecord("a", "/y", 9999*time.Millisecond),
			visitRecord("b", "/x", 10*time.Second),
			visitRecord("a", "/", 12*time.Second),
			visitRecord("b", "/z", 25*time.Second),
		},
		Want: map[string][]Record{
			"visit-counts": {
				windowed("a", 0, 10*time.Second, "3"),
				windowed("b", 0, 10*time.Second, "1"),
				windowed("a", 10*time.Second, 20*time.Second, "1"),
				windowed("b", 10*time.Second, 20*time.Second, "1"),
				windowed("b", 20*time.Second, 30*time.Second, "1"),
			},
			DLQ: {{Key: "bad", Value: `not json`, Headers: map[string]string{"streams.dlq.step": "parse"}}},
		},
	}
}

type order struct {
	Shop   string    `json:"shop"`
	Amount int       `json:"amount"`
	At     time.Time `json:"at"`
}

// slidingSumCase sums order amounts per shop in 10-second windows that
// start every 5 seconds, by the time written in the order (WithEventTime)
// rather than the record timestamp, which is the epoch for all of them.
func slidingSumCase() Case {
	rec := func(shop string, amount int, t time.Duration) Record {
		return Record{Key: shop, Value: fmt.Sprintf(`{"shop":%q,"amount":%d,"at":%q}`, shop, amount, at(t).Format(time.RFC3339Nano)), Timestamp: epoch}
	}
	return Case{
		Name:       "reduce_sliding_sum",
		Partitions: 1,
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "orders").
				Apply("parse", dsl.Parser[order]()).
				Apply("sum", dsl.Reduce(dsl.SlidingWindow(10*time.Second, 5*time.Second),
					func(o order) string { return o.Shop },
					dsl.Sum(func(o order) int { return o.Amount }),
					dsl.WithEventTime(func(o order) time.Time { return o.At }))).
				Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
				Sink("out", dsl.StreamSink("order-sums"))
		},
		Input: []Record{
			rec("x", 1, 1*time.Second),
			rec("x", 2, 6*time.Second),
			rec("y", 10, 7*time.Second),
			rec("x", 4, 12*time.Second),
		},
		Want: map[string][]Record{
			"order-sums": {
				windowed("x", -5*time.Second, 5*time.Second, "1"),
				windowed("x", 0, 10*time.Second, "3"),
				windowed("x", 5*time.Second, 15*time.Second, "6"),
				windowed("x", 10*time.Second, 20*time.Second, "4"),
				windowed("y", 0, 10*time.Second, "10"),
				windowed("y", 5*time.Second, 15*time.Second, "10"),
			},
		},
	}
}

// sessionCase collects the pages of each user's sessions (a gap of 5
// seconds or more ends one). The pages are sorted, since the order in
// which a runner merges accumulators is not defined.
func sessionCase() Case {
	return Case{
		Name:       "reduce_session_collect",
		Partitions: 1,
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "visits").
				Apply("parse", dsl.Parser[visit]()).
				Apply("sessions", dsl.Reduce(dsl.SessionWindow(5*time.Second), userOf,
					dsl.Collect[visit]())).
				Apply("pages", dsl.Map(func(w dsl.Windowed[string, []visit]) (dsl.Windowed[string, []string], error) {
					out := dsl.Windowed[string, []string]{Key: w.Key, Start: w.Start, End: w.End}
					for _, v := range w.Value {
						out.Value = append(out.Value, v.Page)
					}
					slices.Sort(out.Value)
					return out, nil
				})).
				Apply("serialize", dsl.Serializer[dsl.Windowed[string, []string]]()).
				Sink("out", dsl.StreamSink("sessions"))
		},
		Input: []Record{
			visitRecord("u1", "/c", 0),
			visitRecord("u2", "/a", 1*time.Second),
			visitRecord("u1", "/a", 2*time.Second),
			visitRecord("u1", "/b", 6*time.Second),
			visitRecord("u1", "/d", 20*time.Second),
		},
		Want: map[string][]Record{
			"sessions": {
				windowed("u1", 0, 11*time.Second, `["/a","/b","/c"]`),
				windowed("u2", 1*time.Second, 6*time.Second, `["/a"]`),
				windowed("u1", 20*time.Second, 25*time.Second, `["/d"]`),
			},
		},
	}
}

// reduceTwiceCase counts the records of each value in 10-second windows,
// a Reduce right after the source (its records' bytes are the payloads),
// then takes the largest count of each minute: a Reduce after a Reduce.
func reduceTwiceCase() Case {
	rec := func(v string, t time.Duration) Record { return Record{Value: v, Timestamp: at(t)} }
	return Case{
		Name:       "reduce_records_then_reduce",
		Partitions: 1,
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "clicks").
				Apply("count", dsl.Reduce(dsl.TumblingWindow(10*time.Second),
					func(b []byte) string { return string(b) }, dsl.Count[[]byte]())).
				Apply("busiest", dsl.Reduce(dsl.TumblingWindow(time.Minute),
					func(dsl.Windowed[string, int]) string { return "all" },
					dsl.Max(func(w dsl.Windowed[string, int]) int { return w.Value }))).
				Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
				Sink("out", dsl.StreamSink("busiest"))
		},
		Input: []Record{
			rec("a", 0),
			rec("a", 1*time.Second),
			rec("b", 3*time.Second),
			rec("a", 9999*time.Millisecond),
			rec("a", 15*time.Second),
			rec("b", 16*time.Second),
			rec("b", 17*time.Second),
			rec("c", 70*time.Second),
		},
		Want: map[string][]Record{
			"busiest": {
				windowed("all", 0, time.Minute, "3"),
				windowed("all", time.Minute, 2*time.Minute, "1"),
			},
		},
	}
}

type sale struct {
	Shop   string `json:"shop"`
	Amount int    `json:"amount"`
}

// windowValue is the JSON of a ReduceAll result, and its record's
// timestamp: the window's end minus 1ms; it has no key.
func windowValue(start, end time.Duration, value string) Record {
	return Record{
		Value: fmt.Sprintf(`{"start":%q,"end":%q,"value":%s}`,
			at(start).Format(time.RFC3339), at(end).Format(time.RFC3339), value),
		Timestamp: at(end - time.Millisecond),
	}
}

// reduceAllCase sums the sales of every shop in 10-second windows: a
// ReduceAll, one value per window whatever the shops (Sentry Streams'
// Reducer without a group_by).
func reduceAllCase() Case {
	rec := func(shop string, amount int, t time.Duration) Record {
		return Record{Key: shop, Value: fmt.Sprintf(`{"shop":%q,"amount":%d}`, shop, amount), Timestamp: at(t)}
	}
	return Case{
		Name:       "reduce_all_sum",
		Partitions: 1,
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "sales").
				Apply("parse", dsl.Parser[sale]()).
				Apply("total", dsl.ReduceAll(dsl.TumblingWindow(10*time.Second),
					dsl.Sum(func(s sale) int { return s.Amount }))).
				Apply("serialize", dsl.Serializer[dsl.WindowValue[int]]()).
				Sink("out", dsl.StreamSink("sale-totals"))
		},
		DLQ: true,
		Input: []Record{
			rec("x", 1, 0),
			rec("y", 2, 3*time.Second),
			rec("z", 4, 9999*time.Millisecond),
			rec("x", 8, 10*time.Second),
			rec("y", 16, 15*time.Second),
			{Key: "bad", Value: `not json`, Timestamp: at(16 * time.Second)},
			rec("z", 32, 25*time.Second),
		},
		Want: map[string][]Record{
			"sale-totals": {
				windowValue(0, 10*time.Second, "7"),
				windowValue(10*time.Second, 20*time.Second, "24"),
				windowValue(20*time.Second, 30*time.Second, "32"),
			},
			DLQ: {{Key: "bad", Value: `not json`, Headers: map[string]string{"streams.dlq.step": "parse"}}},
		},
	}
}

// reduceAllPartitionsCase is reduceAllCase over two partitions: the
// shops' sales are in both, and each window's one value must sum them
// all (on the bundled runner, through one partition of the step's
// shuffle topic).
func reduceAllPartitionsCase() Case {
	c := reduceAllCase()
	c.Name = "reduce_all_partitions"
	c.Partitions = 2
	c.Skip = map[string]string{
		"prism": "prism keeps one watermark for both partitions of the Kafka read (io/kafka doc, Runners): " +
			"a partition read first and idle can carry it past the other's records, which are then late",
	}
	return c
}

func joinBatch(b [][]byte) ([]byte, error) { return bytes.Join(b, []byte(",")), nil }

// batchByKeyCase batches per message key, three at a time: key a's
// seventh record waits alone until the 2-second bound sends it. A batch
// takes the newest timestamp of its records.
func batchByKeyCase() Case {
	c := Case{
		Name:       "batch_by_key_size",
		Partitions: 1,
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "lines").
				Apply("batch", dsl.Batch[[]byte](3, 2*time.Second, dsl.BatchPerKey())).
				Apply("join", dsl.Map(joinBatch)).
				Sink("out", dsl.StreamSink("batches"))
		},
		Want: map[string][]Record{"batches": {
			{Key: "a", Value: "a1,a2,a3", Timestamp: at(5 * time.Second)},
			{Key: "b", Value: "b1,b2,b3", Timestamp: at(6 * time.Second)},
			{Key: "a", Value: "a4,a5,a6", Timestamp: at(9 * time.Second)},
			{Key: "a", Value: "a7", Timestamp: at(10 * time.Second)},
		}},
	}
	// a1 b1 a2 b2 a3 b3 a4 ... a7, one second apart: timestamps must not
	// go back within a partition, or records may be late.
	for i, v := range []string{"a1", "b1", "a2", "b2", "a3", "b3", "a4", "a5", "a6", "a7"} {
		c.Input = append(c.Input, Record{Key: v[:1], Value: v, Timestamp: at(time.Duration(i+1) * time.Second)})
	}
	return c
}

// batchConfigCase batches per partition, with the deployment config's
// batch_size and batch_timedelta replacing the code's bounds.
func batchConfigCase() Case {
	c := Case{
		Name:       "batch_config_override",
		Partitions: 1,
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "lines").
				Apply("batch", dsl.Batch[[]byte](1000, time.Hour)).
				Apply("join", dsl.Map(joinBatch)).
				Sink("out", dsl.StreamSink("batches"))
		},
		Steps: map[string]map[string]any{"batch": {"batch_size": 2, "batch_timedelta": map[string]any{"seconds": 1}}},
		Want: map[string][]Record{"batches": {
			{Value: "v1,v2", Timestamp: at(2 * time.Second)},
			{Value: "v3,v4", Timestamp: at(4 * time.Second)},
			{Value: "v5", Timestamp: at(5 * time.Second)},
		}},
	}
	for i := 1; i <= 5; i++ {
		c.Input = append(c.Input, Record{Value: fmt.Sprintf("v%d", i), Timestamp: at(time.Duration(i) * time.Second)})
	}
	return c
}
