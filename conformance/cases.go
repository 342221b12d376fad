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
// io/kafka's portable splittable-DoFn read).
package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
		skipInvalidCase(),
		dlqFloodCase(),
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
	return s
}
