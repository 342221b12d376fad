package dsl

import "fmt"

// SerializerOption configures Serializer: WithCodec.
type SerializerOption interface{ applySerializer(*serializerConfig) }

type serializerConfig struct {
	codec Codec
}

// Serializer encodes payloads with its codec (WithCodec; default JSON).
// A payload the codec cannot encode is rejected, with the cause. A
// protobuf Serializer of a T that is not a proto.Message is a Build
// error.
func Serializer[T any](opts ...SerializerOption) Step[T, []byte] {
	var cfg serializerConfig
	for _, o := range opts {
		if o != nil {
			o.applySerializer(&cfg)
		}
	}
	enc, err := newEncoder[T](cfg.codec)
	if err != nil {
		return Step[T, []byte]{err: err}
	}
	return Step[T, []byte]{kind: KindSerializer, process: func(in Any, emit func(Any)) error {
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
	}}
}
