package dsl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/proto"
)

// Codec is how payloads are written as bytes: what Parser and
// BatchParser decode and Serializer encodes.
type Codec int

// The codecs. The zero Codec is unset: JSON, unless the deployment
// config names the source stream's codec.
const (
	// JSON is encoding/json: a struct's fields as its json tags say.
	JSON Codec = iota + 1
	// Msgpack is MessagePack (github.com/vmihailenco/msgpack/v5). A
	// struct's fields are named by their msgpack tags, else by their
	// json tags, else by the field name, so one struct serves both
	// codecs.
	Msgpack
	// Protobuf is the protobuf wire format (google.golang.org/protobuf)
	// for a T that is a generated message pointer (a proto.Message).
	Protobuf
)

var codecNames = map[Codec]string{JSON: "json", Msgpack: "msgpack", Protobuf: "protobuf"}

func (c Codec) String() string {
	if s, ok := codecNames[c]; ok {
		return s
	}
	return fmt.Sprintf("Codec(%d)", int(c))
}

// CodecNames are the codecs' names, as the deployment config spells them.
var CodecNames = []string{"json", "msgpack", "protobuf"}

// ParseCodec returns the codec named name ("json", "msgpack" or
// "protobuf").
func ParseCodec(name string) (Codec, error) {
	for c, n := range codecNames {
		if n == name {
			return c, nil
		}
	}
	return 0, fmt.Errorf("unknown codec %q; use json, msgpack or protobuf", name)
}

// CodecOption sets the codec of a Parser, BatchParser or Serializer.
type CodecOption interface {
	ParserOption
	SerializerOption
}

type codecOption Codec

func (o codecOption) applyParser(c *parserConfig)         { c.codec = Codec(o) }
func (o codecOption) applySerializer(c *serializerConfig) { c.codec = Codec(o) }

// WithCodec sets the codec of a Parser, BatchParser or Serializer.
// Default JSON. A parser's codec may instead come from the deployment
// config (the source step's codec), and a Serializer's (the codec of
// the Kafka sink it feeds); one set here and another there is a config
// error. Protobuf needs a T that is a proto.Message, and takes no
// JSON Schema: either is a Build error otherwise.
func WithCodec(c Codec) CodecOption { return codecOption(c) }

// decodeFunc decodes one payload into a T.
type decodeFunc[T any] func([]byte) (T, error)

// newDecoder makes the decoder of codec c (unset: JSON) that validates
// each payload against schema (if not nil) first.
func newDecoder[T any](c Codec, schema []byte) (decodeFunc[T], error) {
	var sch *jsonschema.Schema
	if schema != nil {
		var err error
		if sch, err = compileSchema(schema); err != nil {
			return nil, fmt.Errorf("json schema: %w", err)
		}
	}
	switch c {
	case 0, JSON:
		return jsonDecoder[T](sch), nil
	case Msgpack:
		return msgpackDecoder[T](sch), nil
	case Protobuf:
		if sch != nil {
			return nil, errors.New("a JSON Schema applies to the json and msgpack codecs, not to protobuf")
		}
		return protoDecoder[T]()
	}
	return nil, fmt.Errorf("unknown codec %v", c)
}

func jsonDecoder[T any](sch *jsonschema.Schema) decodeFunc[T] {
	return func(raw []byte) (T, error) {
		var out T
		if sch != nil {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				return out, fmt.Errorf("invalid json: %w", err)
			}
			if err := validate(sch, doc); err != nil {
				return out, err
			}
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			return out, fmt.Errorf("invalid json: %w", err)
		}
		return out, nil
	}
}

func msgpackDecoder[T any](sch *jsonschema.Schema) decodeFunc[T] {
	return func(raw []byte) (T, error) {
		var out T
		if sch != nil {
			var doc any
			if err := msgpackUnmarshal(raw, &doc); err != nil {
				return out, fmt.Errorf("invalid msgpack: %w", err)
			}
			if err := validate(sch, doc); err != nil {
				return out, err
			}
		}
		if err := msgpackUnmarshal(raw, &out); err != nil {
			return out, fmt.Errorf("invalid msgpack: %w", err)
		}
		return out, nil
	}
}

// msgpackUnmarshal decodes raw into v, naming struct fields by their
// json tags where they have no msgpack tag; numbers decoded into an
// interface become int64, uint64 or float64, which JSON Schema reads.
func msgpackUnmarshal(raw []byte, v any) error {
	r := bytes.NewReader(raw)
	d := msgpack.NewDecoder(r)
	d.SetCustomStructTag("json")
	d.UseLooseInterfaceDecoding(true)
	if err := d.Decode(v); err != nil {
		return err
	}
	if n := r.Len(); n > 0 {
		return fmt.Errorf("%d bytes after the value", n)
	}
	return nil
}

func protoDecoder[T any]() (decodeFunc[T], error) {
	zero, ok := any(*new(T)).(proto.Message)
	if !ok {
		return nil, fmt.Errorf("the protobuf codec needs a proto.Message (a generated message pointer); %v is not one", typeOf[T]())
	}
	return func(raw []byte) (T, error) {
		m := zero.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(raw, m); err != nil {
			var none T
			return none, fmt.Errorf("invalid protobuf: %w", err)
		}
		return m.(T), nil
	}, nil
}

func validate(sch *jsonschema.Schema, doc any) error {
	if err := sch.Validate(doc); err != nil {
		return fmt.Errorf("schema validation: %s", oneLine(err))
	}
	return nil
}

// encodeFunc encodes one payload.
type encodeFunc[T any] func(T) ([]byte, error)

// newEncoder makes the encoder of codec c (unset: JSON).
func newEncoder[T any](c Codec) (encodeFunc[T], error) {
	switch c {
	case 0, JSON:
		return func(v T) ([]byte, error) { return json.Marshal(v) }, nil
	case Msgpack:
		return msgpackMarshal[T], nil
	case Protobuf:
		if _, ok := any(*new(T)).(proto.Message); !ok {
			return nil, fmt.Errorf("the protobuf codec needs a proto.Message (a generated message pointer); %v is not one", typeOf[T]())
		}
		return func(v T) ([]byte, error) { return proto.Marshal(any(v).(proto.Message)) }, nil
	}
	return nil, fmt.Errorf("unknown codec %v", c)
}

func msgpackMarshal[T any](v T) ([]byte, error) {
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	e.SetCustomStructTag("json")
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
