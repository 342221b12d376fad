package conformance

import (
	"bytes"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/streams-dev/streams/dsl"
)

// mp is v in msgpack, as a record value, with struct fields named by
// their json tags, as the Msgpack codec names them.
func mp(v any) string {
	var b bytes.Buffer
	e := msgpack.NewEncoder(&b)
	e.SetCustomStructTag("json")
	if err := e.Encode(v); err != nil {
		panic(err)
	}
	return b.String()
}

// msgpackCase reads a msgpack stream: the Parser says only its type, and
// the source's codec in the deployment config decides how it decodes;
// the Serializer writes msgpack again, by its own option. A record that
// is not one msgpack value goes to the dead-letter queue.
func msgpackCase() Case {
	return Case{
		Name: "msgpack_parser",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "packed-metrics").
				Apply("parse", dsl.Parser[metric]()).
				Apply("double", dsl.Map(func(m metric) (metric, error) { m.Value *= 2; return m, nil })).
				Apply("serialize", dsl.Serializer[metric](dsl.WithCodec(dsl.Msgpack))).
				Sink("out", dsl.StreamSink("packed-doubled"))
		},
		DLQ:   true,
		Steps: map[string]map[string]any{"in": {"codec": "msgpack"}},
		Input: []Record{
			{Key: "k1", Value: mp(map[string]any{"name": "cpu", "value": 1.5})},
			{Key: "k2", Value: `{"name":"cpu"}`},
			{Key: "k3", Value: mp(map[string]any{"name": "mem", "value": 4})},
		},
		Want: map[string][]Record{
			"packed-doubled": {
				{Key: "k1", Value: mp(metric{Name: "cpu", Value: 3})},
				{Key: "k3", Value: mp(metric{Name: "mem", Value: 8})},
			},
			DLQ: {{Key: "k2", Value: `{"name":"cpu"}`, Headers: map[string]string{
				"streams.dlq.step":  "parse",
				"streams.dlq.error": "step parse: invalid message: invalid msgpack: msgpack: unexpected code=7b decoding map length",
			}}},
		},
	}
}

// msgpackSinkCase writes a msgpack stream from JSON: the Serializer says
// only its type, and the Kafka sink's codec in the deployment config
// decides how it encodes.
func msgpackSinkCase() Case {
	return Case{
		Name: "msgpack_sink",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "plain-metrics").
				Apply("parse", dsl.Parser[metric]()).
				Apply("serialize", dsl.Serializer[metric]()).
				Sink("out", dsl.StreamSink("packed-metrics-out"))
		},
		Steps: map[string]map[string]any{"out": {"codec": "msgpack"}},
		Input: []Record{
			{Key: "k1", Value: `{"name":"cpu","value":1.5}`},
			{Key: "k2", Value: `{"name":"mem","value":4}`},
		},
		Want: map[string][]Record{
			"packed-metrics-out": {
				{Key: "k1", Value: mp(metric{Name: "cpu", Value: 1.5})},
				{Key: "k2", Value: mp(metric{Name: "mem", Value: 4})},
			},
		},
	}
}

// pb is m in the protobuf wire format, as a record value.
func pb(m proto.Message) string {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// protobufCase reads a protobuf stream, the codec named by the source's
// config and checked against the Parser's type at start, and writes
// protobuf again. A record that is not a message goes to the dead-letter
// queue (the error's text is protobuf's, which varies on purpose: not
// compared).
func protobufCase() Case {
	return Case{
		Name: "protobuf_parser",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "names").
				Apply("parse", dsl.Parser[*wrapperspb.StringValue]()).
				Apply("upper", dsl.Map(func(s *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
					return wrapperspb.String(strings.ToUpper(s.GetValue())), nil
				})).
				Apply("serialize", dsl.Serializer[*wrapperspb.StringValue](dsl.WithCodec(dsl.Protobuf))).
				Sink("out", dsl.StreamSink("upper-names"))
		},
		DLQ:   true,
		Steps: map[string]map[string]any{"in": {"codec": "protobuf"}},
		Input: []Record{
			{Key: "k1", Value: pb(wrapperspb.String("cpu"))},
			{Key: "k2", Value: "\xff\xff"},
			{Key: "k3", Value: pb(wrapperspb.String("mem"))},
		},
		Want: map[string][]Record{
			"upper-names": {{Key: "k1", Value: pb(wrapperspb.String("CPU"))}, {Key: "k3", Value: pb(wrapperspb.String("MEM"))}},
			DLQ:           {{Key: "k2", Value: "\xff\xff", Headers: map[string]string{"streams.dlq.step": "parse"}}},
		},
	}
}

// schemaDirCase validates a stream against its JSON Schema, found in the
// source's schema_dir by the stream's name (testdata/schemas/
// checked-metrics.json): the Parser's code names no schema. The record
// that breaks it goes to the dead-letter queue with the cause.
func schemaDirCase() Case {
	return Case{
		Name: "schema_dir",
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "checked-metrics").
				Apply("parse", dsl.Parser[metric]()).
				Apply("serialize", dsl.Serializer[metric]()).
				Sink("out", dsl.StreamSink("checked"))
		},
		DLQ:   true,
		Steps: map[string]map[string]any{"in": {"schema_dir": "testdata/schemas"}},
		Input: []Record{
			{Key: "k1", Value: `{"name":"cpu","value":1.5}`},
			{Key: "k2", Value: `{"name":"cpu","value":-1}`},
			{Key: "k3", Value: `{"name":"mem","value":4}`},
		},
		Want: map[string][]Record{
			"checked": {{Key: "k1", Value: `{"name":"cpu","value":1.5}`}, {Key: "k3", Value: `{"name":"mem","value":4}`}},
			DLQ: {{Key: "k2", Value: `{"name":"cpu","value":-1}`, Headers: map[string]string{
				"streams.dlq.step":  "parse",
				"streams.dlq.error": "step parse: invalid message: schema validation: at '/value': minimum: got -1, want 0",
			}}},
		},
	}
}

// batchParserCase parses a batch of four raw records at once: the two
// valid ones go on as one batch, and each invalid one goes to the
// dead-letter queue on its own, with its place in the batch. One
// partition and a size bound make the batch the same on every runner.
func batchParserCase() Case {
	return Case{
		Name:       "batch_parser",
		Partitions: 1,
		Pipeline: func() dsl.Pipeline {
			return dsl.StreamingSource("in", "metric-lines").
				Apply("batch", dsl.Batch[[]byte](4, time.Hour)).
				Apply("parse", dsl.BatchParser[metric]()).
				Apply("names", dsl.Map(func(ms []metric) ([]byte, error) {
					names := make([]string, len(ms))
					for i, m := range ms {
						names[i] = m.Name
					}
					return []byte(strings.Join(names, ",")), nil
				})).
				Sink("out", dsl.StreamSink("metric-names"))
		},
		DLQ: true,
		Input: []Record{
			{Value: `{"name":"cpu","value":1}`},
			{Value: `not json`},
			{Value: `{"name":"mem","value":2}`},
			{Value: `[]`},
		},
		Want: map[string][]Record{
			"metric-names": {{Value: "cpu,mem"}},
			DLQ: {
				{Value: `not json`, Headers: map[string]string{
					"streams.dlq.step":  "parse",
					"streams.dlq.error": "step parse: invalid message: item 1: invalid json: invalid character 'o' in literal null (expecting 'u')",
				}},
				{Value: `[]`, Headers: map[string]string{
					"streams.dlq.step":  "parse",
					"streams.dlq.error": "step parse: invalid message: item 3: invalid json: json: cannot unmarshal array into Go value of type conformance.metric",
				}},
			},
		},
	}
}
