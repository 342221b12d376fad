package beamtranslate

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/streams-dev/streams/dsl"
)

// element is a DSL message inside a Beam pipeline. Its event time is the
// Beam element timestamp. Within a fused stage elements pass between
// DoFns as Go values; the coder below is used only where a runner
// materialises a PCollection (between stages, across processes).
type element struct {
	Payload any
	Key     []byte
	Headers []dsl.Header
	// Branch is the branch a Router chose, read and cleared by that
	// branch's first step.
	Branch string
	// Origin is the source record this element came from, kept so that a
	// message rejected by any step can be sent to the dead-letter queue
	// unchanged.
	Origin origin
}

type origin struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []dsl.Header
}

// invalid is a message a step rejected.
type invalid struct {
	Step   string
	Error  string
	Origin origin
}

// payloadTypes maps the names of payload types to their types, so the
// element coder can rebuild a payload. It is filled by Register from the
// payload types of the pipeline's steps; a worker process fills it the
// same way because it runs the same main, which defines the same pipeline
// before beam.Init.
var payloadTypes sync.Map // string -> reflect.Type

func typeName(t reflect.Type) string {
	if t.Name() != "" && t.PkgPath() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	return t.String()
}

func registerPayloadType(t reflect.Type) {
	if t != nil {
		payloadTypes.Store(typeName(t), t)
	}
}

var bytesType = reflect.TypeFor[[]byte]()

// Payload encodings: raw bytes and strings as they are, anything else as
// JSON tagged with its type name.
const (
	payloadNil byte = iota
	payloadBytes
	payloadString
	payloadJSON
)

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendHeaders(b []byte, hs []dsl.Header) []byte {
	b = binary.AppendUvarint(b, uint64(len(hs)))
	for _, h := range hs {
		b = appendBytes(b, []byte(h.Key))
		b = appendBytes(b, h.Value)
	}
	return b
}

func appendOrigin(b []byte, o origin) []byte {
	b = appendBytes(b, []byte(o.Topic))
	b = binary.AppendVarint(b, int64(o.Partition))
	b = binary.AppendVarint(b, o.Offset)
	b = appendBytes(b, o.Key)
	b = appendBytes(b, o.Value)
	return appendHeaders(b, o.Headers)
}

func encodeElement(e element) ([]byte, error) {
	var b []byte
	switch p := e.Payload.(type) {
	case nil:
		b = append(b, payloadNil)
	case []byte:
		b = appendBytes(append(b, payloadBytes), p)
	case string:
		b = appendBytes(append(b, payloadString), []byte(p))
	default:
		js, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("beamtranslate: encode %T payload: %w", p, err)
		}
		b = append(b, payloadJSON)
		b = appendBytes(b, []byte(typeName(reflect.TypeOf(p))))
		b = appendBytes(b, js)
	}
	b = appendBytes(b, e.Key)
	b = appendHeaders(b, e.Headers)
	b = appendBytes(b, []byte(e.Branch))
	return appendOrigin(b, e.Origin), nil
}

// decoder reads what the append functions wrote; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("beamtranslate: truncated element")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.err = errShort
		return nil
	}
	if n == 0 {
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) headers() []dsl.Header {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	hs := make([]dsl.Header, n)
	for i := range hs {
		hs[i] = dsl.Header{Key: string(d.bytes()), Value: d.bytes()}
	}
	return hs
}

func (d *decoder) origin() origin {
	return origin{
		Topic:     string(d.bytes()),
		Partition: int32(d.varint()),
		Offset:    d.varint(),
		Key:       d.bytes(),
		Value:     d.bytes(),
		Headers:   d.headers(),
	}
}

func decodeElement(b []byte) (element, error) {
	if len(b) == 0 {
		return element{}, errShort
	}
	d := decoder{b: b[1:]}
	var e element
	switch b[0] {
	case payloadNil:
	case payloadBytes:
		e.Payload = d.bytes()
		if e.Payload.([]byte) == nil {
			e.Payload = []byte{}
		}
	case payloadString:
		e.Payload = string(d.bytes())
	case payloadJSON:
		name, js := string(d.bytes()), d.bytes()
		if d.err != nil {
			return element{}, d.err
		}
		t, ok := payloadTypes.Load(name)
		if !ok {
			return element{}, fmt.Errorf("beamtranslate: payload type %s is not a type of any registered pipeline", name)
		}
		v := reflect.New(t.(reflect.Type))
		if err := json.Unmarshal(js, v.Interface()); err != nil {
			return element{}, fmt.Errorf("beamtranslate: decode %s payload: %w", name, err)
		}
		e.Payload = v.Elem().Interface()
	default:
		return element{}, fmt.Errorf("beamtranslate: unknown payload encoding %d", b[0])
	}
	e.Key = d.bytes()
	e.Headers = d.headers()
	e.Branch = string(d.bytes())
	e.Origin = d.origin()
	if d.err != nil {
		return element{}, d.err
	}
	return e, nil
}

func encodeInvalid(v invalid) ([]byte, error) {
	b := appendBytes(nil, []byte(v.Step))
	b = appendBytes(b, []byte(v.Error))
	return appendOrigin(b, v.Origin), nil
}

func decodeInvalid(b []byte) (invalid, error) {
	d := decoder{b: b}
	v := invalid{Step: string(d.bytes()), Error: string(d.bytes()), Origin: d.origin()}
	return v, d.err
}
