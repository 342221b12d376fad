package dsl

import (
	"errors"
	"fmt"
	"reflect"
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
	// decoding lets the deployment config set a Parser's or
	// BatchParser's codec and schema.
	decoding *decoding
	// encoding lets the deployment config set a Serializer's codec.
	encoding *encoding
	err      error // a problem found when the step was made, reported by Build
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

// SinkKind says where a sink writes: a short name, shown in the graph
// and on the pipeline page. Runners find the sink's implementation by
// it (a component's kind besides these).
type SinkKind string

// The sink kinds of the DSL's own sinks.
const (
	SinkStream  SinkKind = "stream"  // a Kafka topic
	SinkDevNull SinkKind = "devnull" // nowhere
	SinkBlob    SinkKind = "blob"    // objects in an object store bucket
)

func (k SinkKind) String() string {
	if k == "" {
		return `SinkKind("")`
	}
	return string(k)
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
