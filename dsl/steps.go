package dsl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Kind says what a step does. Runners dispatch on it.
type Kind int

// The step kinds.
const (
	KindSource     Kind = iota + 1 // reads a Kafka stream
	KindMap                        // one message in, one out
	KindFilter                     // one in, the same one or none out
	KindFlatMap                    // one in, any number out
	KindParser                     // bytes to a typed payload
	KindSerializer                 // a typed payload to bytes
	KindRouter                     // each message to exactly one branch
	KindBroadcast                  // each message to every branch
	KindBranch                     // the root of a branch under a Router or Broadcast
	KindSink                       // writes messages out
	KindBatch                      // groups messages into batches by size and time
	KindReduce                     // aggregates messages per key in event-time windows
)

var kindNames = map[Kind]string{
	KindSource: "source", KindMap: "map", KindFilter: "filter", KindFlatMap: "flat_map",
	KindParser: "parser", KindSerializer: "serializer", KindRouter: "router",
	KindBroadcast: "broadcast", KindBranch: "branch", KindSink: "sink",
	KindBatch: "batch", KindReduce: "reduce",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// processFn runs a step on one message and emits its outputs. An error
// rejects the message.
type processFn func(in Any, emit func(Any)) error

// Step is a transform from a stream of T to a stream of U, used with
// Stream.Apply. Make one with Map, MapMessage, Filter, FilterMessage,
// HeadersFilter, FlatMap, Parser, Serializer, Batch, Reduce or ReduceAll.
type Step[T, U any] struct {
	kind    Kind
	process processFn
	batcher *Batcher // Batch
	reduce  *Reducer // Reduce
	err     error    // a problem found when the step was made, reported by Build
}

func nilFn(what string) error { return fmt.Errorf("%s function is nil", what) }

// Map applies fn to each payload. An error from fn, or a panic, rejects
// that message (it goes to the dead-letter queue with the step name and
// the cause) and the pipeline goes on. Key, headers and timestamp are kept.
func Map[T, U any](fn func(T) (U, error)) Step[T, U] {
	if fn == nil {
		return Step[T, U]{err: nilFn("map")}
	}
	return Step[T, U]{kind: KindMap, process: func(in Any, emit func(Any)) error {
		m, err := typed[T](in)
		if err != nil {
			return err
		}
		out, err := fn(m.Payload)
		if err != nil {
			return err
		}
		emit(erase(retype(m, out)))
		return nil
	}}
}

// MapMessage applies fn to each whole message, so it can read and set the
// key, headers and timestamp as well as the payload.
func MapMessage[T, U any](fn func(Message[T]) (Message[U], error)) Step[T, U] {
	if fn == nil {
		return Step[T, U]{err: nilFn("map")}
	}
	return Step[T, U]{kind: KindMap, process: func(in Any, emit func(Any)) error {
		m, err := typed[T](in)
		if err != nil {
			return err
		}
		out, err := fn(m)
		if err != nil {
			return err
		}
		emit(erase(out))
		return nil
	}}
}

// Filter keeps the messages whose payload fn accepts.
func Filter[T any](fn func(T) bool) Step[T, T] {
	if fn == nil {
		return Step[T, T]{err: nilFn("filter")}
	}
	return Step[T, T]{kind: KindFilter, process: func(in Any, emit func(Any)) error {
		p, ok := in.Payload.(T)
		if !ok && in.Payload != nil {
			return fmt.Errorf("payload is %T, step expects %T", in.Payload, p)
		}
		if fn(p) {
			emit(in)
		}
		return nil
	}}
}

// FilterMessage keeps the messages fn accepts, looking at the whole
// message (for example at a header).
func FilterMessage[T any](fn func(Message[T]) bool) Step[T, T] {
	if fn == nil {
		return Step[T, T]{err: nilFn("filter")}
	}
	return Step[T, T]{kind: KindFilter, process: func(in Any, emit func(Any)) error {
		m, err := typed[T](in)
		if err != nil {
			return err
		}
		if fn(m) {
			emit(in)
		}
		return nil
	}}
}

// FlatMap turns each payload into any number of payloads, each a message
// with the input's key, headers and timestamp.
func FlatMap[T, U any](fn func(T) ([]U, error)) Step[T, U] {
	if fn == nil {
		return Step[T, U]{err: nilFn("flat map")}
	}
	return Step[T, U]{kind: KindFlatMap, process: func(in Any, emit func(Any)) error {
		m, err := typed[T](in)
		if err != nil {
			return err
		}
		outs, err := fn(m.Payload)
		if err != nil {
			return err
		}
		for _, o := range outs {
			emit(erase(retype(m, o)))
		}
		return nil
	}}
}

// ParserOption configures Parser.
type ParserOption interface{ applyParser(*parserConfig) }

type parserConfig struct {
	schema    []byte
	schemaURL string
}

type parserOptionFunc func(*parserConfig)

func (f parserOptionFunc) applyParser(c *parserConfig) { f(c) }

// WithJSONSchema makes the parser validate each payload against a JSON
// Schema (drafts 4 to 2020-12) before decoding it; a payload that does not
// conform is rejected with the validation errors as its cause. The schema
// is compiled when the step is made, and a bad schema is a Build error.
func WithJSONSchema(schema []byte) ParserOption {
	return parserOptionFunc(func(c *parserConfig) { c.schema = schema })
}

// Parser decodes JSON payloads into T. A payload that is not valid JSON,
// does not fit T, or (WithJSONSchema) breaks the schema is rejected, with
// the cause, and the pipeline goes on.
func Parser[T any](opts ...ParserOption) Step[[]byte, T] {
	var cfg parserConfig
	for _, o := range opts {
		o.applyParser(&cfg)
	}
	var schema *jsonschema.Schema
	if cfg.schema != nil {
		var err error
		if schema, err = compileSchema(cfg.schema); err != nil {
			return Step[[]byte, T]{err: fmt.Errorf("json schema: %w", err)}
		}
	}
	return Step[[]byte, T]{kind: KindParser, process: func(in Any, emit func(Any)) error {
		raw, ok := in.Payload.([]byte)
		if !ok {
			return fmt.Errorf("parser needs []byte payloads, got %T", in.Payload)
		}
		if schema != nil {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				return fmt.Errorf("invalid json: %w", err)
			}
			if err := schema.Validate(doc); err != nil {
				return fmt.Errorf("schema validation: %s", oneLine(err))
			}
		}
		var out T
		if err := json.Unmarshal(raw, &out); err != nil {
			return fmt.Errorf("invalid json: %w", err)
		}
		emit(Any{Payload: out, Key: in.Key, Headers: in.Headers, Timestamp: in.Timestamp})
		return nil
	}}
}

func compileSchema(schema []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	const url = "urn:streams:json-schema"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// oneLine turns a validation error, one cause per line after a heading,
// into one line of causes: a message header or log line holds it whole.
func oneLine(err error) string {
	lines := strings.Split(strings.TrimSpace(err.Error()), "\n")
	if len(lines) > 1 {
		lines = lines[1:]
	}
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(strings.TrimSpace(l), "- ")
	}
	return strings.Join(lines, "; ")
}

// Serializer encodes payloads as JSON.
func Serializer[T any]() Step[T, []byte] {
	return Step[T, []byte]{kind: KindSerializer, process: func(in Any, emit func(Any)) error {
		b, err := json.Marshal(in.Payload)
		if err != nil {
			return fmt.Errorf("serialize: %w", err)
		}
		emit(Any{Payload: b, Key: in.Key, Headers: in.Headers, Timestamp: in.Timestamp})
		return nil
	}}
}

// SinkKind says where a sink writes.
type SinkKind int

// The sink kinds.
const (
	SinkStream  SinkKind = iota + 1 // a Kafka topic
	SinkDevNull                     // nowhere
	SinkBlob                        // objects in an object store bucket
)

func (k SinkKind) String() string {
	switch k {
	case SinkStream:
		return "stream"
	case SinkDevNull:
		return "devnull"
	case SinkBlob:
		return "blob"
	}
	return fmt.Sprintf("SinkKind(%d)", int(k))
}

// Sink says where a stream of T ends. Make one with StreamSink,
// BlobSink or DevNullSink.
type Sink[T any] struct {
	kind   SinkKind
	stream string
	blob   *Blob // BlobSink
}

// StreamSink writes each message to the Kafka stream (topic) streamName:
// the payload as the record value, with the message's key, headers and
// timestamp. The deployment config may map the stream to another topic.
// Payloads must be bytes: end a typed chain with a Serializer.
func StreamSink(streamName string) Sink[[]byte] {
	return Sink[[]byte]{kind: SinkStream, stream: streamName}
}

// DevNullSink discards every message. It is useful for benchmarks and
// for branches that only exist for their side effects.
func DevNullSink[T any]() Sink[T] {
	return Sink[T]{kind: SinkDevNull}
}

// panicError turns a recovered panic value into an error.
func panicError(r any) error {
	if e, ok := r.(error); ok {
		return fmt.Errorf("panic: %w", e)
	}
	return fmt.Errorf("panic: %v", r)
}

var errNotRouted = errors.New("no branch for this message")

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }
