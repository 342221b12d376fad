package dsl

import (
	"fmt"
	"time"
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Message is what flows from step to step: a typed payload and the Kafka
// metadata that travels with it end to end. Most steps see only the
// payload; MapMessage and FilterMessage see the whole message and may set
// the key, headers and timestamp.
type Message[T any] struct {
	Payload T
	// Key is the Kafka record key. A Kafka sink produces with it, so
	// records with the same key stay in one partition.
	Key []byte
	// Headers are kept from the source record unless a step changes them.
	Headers []Header
	// Timestamp is the record's event time: the Kafka record timestamp at
	// the source.
	Timestamp time.Time
}

// Header returns the value of the first header named key.
func (m Message[T]) Header(key string) ([]byte, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// WithHeader returns m with header key set to value, replacing any header
// of that name. The header slice is copied, so m itself is unchanged.
func (m Message[T]) WithHeader(key string, value []byte) Message[T] {
	hs := make([]Header, 0, len(m.Headers)+1)
	for _, h := range m.Headers {
		if h.Key != key {
			hs = append(hs, h)
		}
	}
	m.Headers = append(hs, Header{Key: key, Value: value})
	return m
}

// Any is a message whose payload type is erased. Runners and translators
// execute steps on Any messages; user code rarely needs it.
type Any = Message[any]

// InvalidError is how a step reports that it rejected one message: the
// user function returned an error, panicked, or a parser refused the
// payload. Runners send such messages to the dead-letter queue with the
// step name and cause, and go on with the next message.
type InvalidError struct {
	Step  string // name of the step that rejected the message
	Cause error
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("step %s: invalid message: %v", e.Step, e.Cause)
}

func (e *InvalidError) Unwrap() error { return e.Cause }

func retype[T, U any](m Message[T], p U) Message[U] {
	return Message[U]{Payload: p, Key: m.Key, Headers: m.Headers, Timestamp: m.Timestamp}
}

func typed[T any](m Any) (Message[T], error) {
	if m.Payload == nil {
		// A nil interface asserts to no type; it is the zero value of an
		// interface-typed payload.
		var zero T
		return retype(m, zero), nil
	}
	p, ok := m.Payload.(T)
	if !ok {
		return Message[T]{}, fmt.Errorf("payload is %T, step expects %T", m.Payload, p)
	}
	return retype(m, p), nil
}

func erase[T any](m Message[T]) Any {
	return retype[T, any](m, m.Payload)
}
