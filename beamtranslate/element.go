package beamtranslate

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/wire"
	"google.golang.org/protobuf/proto"
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
	// Origin is the source record this element came from (nil for none),
	// kept so that a message rejected by any step can be sent to the
	// dead-letter queue unchanged. The elements made from one message
	// share it; it is never changed.
	Origin *origin
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
		p := infoOf(t)
		payloadTypes.Store(p.name, t)
		payloadIDs.Store(p.id, p)
	}
}

var bytesType = reflect.TypeFor[[]byte]()

// Payload encodings: raw bytes and strings as they are, plain data types
// with the plain codec (plain.go), anything else as JSON tagged with its
// type name.
const (
	payloadNil byte = iota
	payloadBytes
	payloadString
	payloadJSON
	payloadPlain
	payloadProto // a proto.Message, in the protobuf wire format
)

func appendHeaders(b []byte, hs []dsl.Header) []byte {
	b = binary.AppendUvarint(b, uint64(len(hs)))
	for _, h := range hs {
		b = wire.AppendBytes(b, h.Key)
		b = wire.AppendBytes(b, h.Value)
	}
	return b
}

func appendOrigin(b []byte, o origin) []byte {
	b = wire.AppendBytes(b, o.Topic)
	b = binary.AppendVarint(b, int64(o.Partition))
	b = binary.AppendVarint(b, o.Offset)
	b = wire.AppendBytes(b, o.Key)
	b = wire.AppendBytes(b, o.Value)
	return appendHeaders(b, o.Headers)
}

// appendPayload appends a payload (or any value of a registered type):
// its encoding byte, then the value.
func appendPayload(b []byte, p any) ([]byte, error) {
	switch p := p.(type) {
	case nil:
		return append(b, payloadNil), nil
	case []byte:
		return wire.AppendBytes(append(b, payloadBytes), p), nil
	case string:
		return wire.AppendBytes(append(b, payloadString), p), nil
	}
	info := infoOf(reflect.TypeOf(p))
	if info.plain != nil {
		return info.encode(b, p), nil
	}
	if m, ok := p.(proto.Message); ok {
		// encoding/json would drop what protobuf's own JSON keeps
		// (oneofs, unknown fields) and copy internal state.
		pb, err := proto.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("beamtranslate: encode %T payload: %w", p, err)
		}
		b = wire.AppendBytes(append(b, payloadProto), info.name)
		return wire.AppendBytes(b, pb), nil
	}
	js, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("beamtranslate: encode %T payload: %w", p, err)
	}
	b = append(b, payloadJSON)
	b = wire.AppendBytes(b, info.name)
	return wire.AppendBytes(b, js), nil
}

func encodeElement(e element) ([]byte, error) {
	// Room for all but a large payload, so that the appends rarely grow b.
	n := 64 + len(e.Key) + len(e.Branch)
	switch p := e.Payload.(type) {
	case []byte:
		n += len(p)
	case string:
		n += len(p)
	}
	for _, h := range e.Headers {
		n += 4 + len(h.Key) + len(h.Value)
	}
	if o := e.Origin; o != nil {
		n += 16 + len(o.Topic) + len(o.Key) + len(o.Value)
		for _, h := range o.Headers {
			n += 4 + len(h.Key) + len(h.Value)
		}
	}
	return appendElement(make([]byte, 0, n), e)
}

// appendElement appends e's encoding to b; on error b is lost.
func appendElement(b []byte, e element) ([]byte, error) {
	b, err := appendPayload(b, e.Payload)
	if err != nil {
		return nil, err
	}
	b = wire.AppendBytes(b, e.Key)
	b = appendHeaders(b, e.Headers)
	b = wire.AppendBytes(b, e.Branch)
	return appendOrigin(b, e.Origin.value()), nil
}

// decoder reads what the append functions wrote.
type decoder struct{ wire.Reader }

var errShort = errors.New("beamtranslate: truncated element")

func newDecoder(b []byte) *decoder { return &decoder{wire.Reader{B: b, Short: errShort}} }

func (d *decoder) headers() []dsl.Header {
	n := d.Uvarint()
	if d.Err != nil || n == 0 {
		return nil
	}
	if n > uint64(len(d.B)) {
		d.Err = errShort
		return nil
	}
	hs := make([]dsl.Header, n)
	for i := range hs {
		hs[i] = dsl.Header{Key: d.Text(), Value: d.Bytes()}
	}
	return hs
}

func (d *decoder) origin() origin {
	return origin{
		Topic:     d.Text(),
		Partition: int32(d.Varint()),
		Offset:    d.Varint(),
		Key:       d.Bytes(),
		Value:     d.Bytes(),
		Headers:   d.headers(),
	}
}

// empty reports whether o is the zero origin, which the element coder
// writes for a nil one.
func (o *origin) empty() bool {
	return o.Topic == "" && o.Partition == 0 && o.Offset == 0 && len(o.Key) == 0 && len(o.Value) == 0 && len(o.Headers) == 0
}

// value is *o, or the zero origin for nil.
func (o *origin) value() origin {
	if o == nil {
		return origin{}
	}
	return *o
}

// payload reads what appendPayload wrote.
func (d *decoder) payload() (any, error) {
	enc := d.Take(1)
	if d.Err != nil {
		return nil, d.Err
	}
	switch enc[0] {
	case payloadNil:
		return nil, nil
	case payloadBytes:
		p := d.Bytes()
		if p == nil {
			p = []byte{}
		}
		return p, d.Err
	case payloadString:
		return d.Text(), d.Err
	case payloadJSON:
		name, js := d.Text(), d.Bytes()
		if d.Err != nil {
			return nil, d.Err
		}
		t, ok := payloadTypes.Load(name)
		if !ok {
			return nil, fmt.Errorf("beamtranslate: payload type %s is not a type of any registered pipeline", name)
		}
		v := reflect.New(t.(reflect.Type))
		if err := json.Unmarshal(js, v.Interface()); err != nil {
			return nil, fmt.Errorf("beamtranslate: decode %s payload: %w", name, err)
		}
		return v.Elem().Interface(), nil
	case payloadPlain:
		return d.plainPayload()
	case payloadProto:
		return d.protoPayload()
	}
	return nil, fmt.Errorf("beamtranslate: unknown payload encoding %d", enc[0])
}

// protoPayload reads a payloadProto payload after its encoding byte.
func (d *decoder) protoPayload() (any, error) {
	name, pb := d.Text(), d.Bytes()
	if d.Err != nil {
		return nil, d.Err
	}
	t, ok := payloadTypes.Load(name)
	if !ok {
		return nil, fmt.Errorf("beamtranslate: payload type %s is not a type of any registered pipeline", name)
	}
	rt := t.(reflect.Type)
	if rt.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("beamtranslate: payload type %s is not a protobuf message pointer", name)
	}
	m, ok := reflect.New(rt.Elem()).Interface().(proto.Message)
	if !ok {
		return nil, fmt.Errorf("beamtranslate: payload type %s is not a protobuf message", name)
	}
	if err := proto.Unmarshal(pb, m); err != nil {
		return nil, fmt.Errorf("beamtranslate: decode %s payload: %w", name, err)
	}
	return m, nil
}

func decodeElement(b []byte) (element, error) {
	if len(b) == 0 {
		return element{}, errShort
	}
	d := newDecoder(b)
	var e element
	var err error
	if e.Payload, err = d.payload(); err != nil {
		return element{}, err
	}
	e.Key = d.Bytes()
	e.Headers = d.headers()
	e.Branch = d.Text()
	if o := d.origin(); !o.empty() {
		e.Origin = &o
	}
	if d.Err != nil {
		return element{}, d.Err
	}
	return e, nil
}

func encodeInvalid(v invalid) ([]byte, error) {
	b := wire.AppendBytes(nil, v.Step)
	b = wire.AppendBytes(b, v.Error)
	return appendOrigin(b, v.Origin), nil
}

func decodeInvalid(b []byte) (invalid, error) {
	d := newDecoder(b)
	v := invalid{Step: d.Text(), Error: d.Text(), Origin: d.origin()}
	return v, d.Err
}
