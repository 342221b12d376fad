package dsl

import "fmt"

// SerializerOption configures Serializer: WithCodec.
type SerializerOption interface{ applySerializer(*serializerConfig) }

type serializerConfig struct {
	codec Codec
}

// Serializer encodes payloads with its codec (WithCodec; default JSON,
// or the codec of the Kafka sink it feeds in the deployment config). A
// payload the codec cannot encode is rejected, with the cause. A
// protobuf Serializer of a T that is not a proto.Message is a Build
// error.
func Serializer[T any](opts ...SerializerOption) Step[T, []byte] {
	var cfg serializerConfig
	for _, o := range opts {
		if o != nil {
			o.applySerializer(&cfg)
		}
	}
	e := &encoding{codec: cfg.codec}
	e.make = func(c Codec) (processFn, error) {
		enc, err := newEncoder[T](c)
		if err != nil {
			return nil, err
		}
		return serializeFn(enc), nil
	}
	process, err := e.make(cfg.codec)
	if err != nil {
		return Step[T, []byte]{err: err}
	}
	return Step[T, []byte]{kind: KindSerializer, process: process, encoding: e}
}

func serializeFn[T any](enc encodeFunc[T]) processFn {
	return func(in Any, emit func(Any)) error {
		m, err := typed[T](in)
		if err != nil {
			return err
		}
		b, err := enc(m.Payload)
		if err != nil {
			return fmt.Errorf("serialize: %w", err)
		}
		emit(erase(retype(m, b)))
		return nil
	}
}

// encoding is what a Serializer encodes with, as its code says, and how
// to make its process function with another codec (from the deployment
// config).
type encoding struct {
	codec Codec // set in code; 0: not set
	make  func(c Codec) (processFn, error)
}

// Encodes reports whether the step is a Serializer, whose codec the
// deployment config may set (WithEncoding).
func (n *Node) Encodes() bool { return n.encoding != nil }

// WithEncoding returns a copy of n, a Serializer, that encodes with
// codec c (0: as the code says), as the deployment config asks for the
// stream the Serializer's output goes to. A codec other than one the
// code set is an error: the config would otherwise be ignored or
// silently win.
func (n *Node) WithEncoding(c Codec) (*Node, error) {
	e := n.encoding
	if e == nil {
		return nil, fmt.Errorf("dsl: step %q (%s) is not a serializer", n.name, n.kind)
	}
	if c != 0 && e.codec != 0 && c != e.codec {
		return nil, fmt.Errorf("step %s: its code sets codec %v, the config %v", n.name, e.codec, c)
	}
	if c == 0 {
		c = e.codec
	}
	process, err := e.make(c)
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", n.name, err)
	}
	cp := *n
	cp.process = process
	return &cp, nil
}
