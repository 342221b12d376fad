package beamtranslate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/streams-dev/streams/internal/wire"
)

// The plain codec: a compact binary encoding for payload types that are
// plain data, which is most of them (structs of strings, numbers, bools,
// byte slices, times, and slices, arrays, maps and pointers of those).
// It writes the fields the JSON encoding would carry, in declaration
// order and without names, so it decodes to exactly what a JSON round
// trip gives (and better: no lost precision, invalid UTF-8 or NaN
// errors), at a fraction of JSON's cost.
//
// A type is plain unless something in it has its own JSON or text
// encoding (MarshalJSON, MarshalText and the like, except time.Time),
// holds interfaces, functions, channels or complex numbers, embeds a
// struct (JSON's field promotion), repeats a JSON field name, or refers
// to itself. Other types keep the JSON encoding.
//
// The encoding names the type by a hash of its name and carries a hash of
// its shape (field names, kinds, order). Decoding with a changed
// definition of the type (state written by an older build) is therefore a
// clear error rather than a misread: see payloadInfo.decode.

// payloadInfo is what the element coder knows of a payload type.
type payloadInfo struct {
	t     reflect.Type
	name  string
	id    uint64      // fnv-64a of name
	shape uint32      // fnv-32a of the plain codec's shape; 0 without it
	plain *plainCodec // nil: JSON
}

// plainCodec appends a value of its type and reads one into a settable
// value.
type plainCodec struct {
	enc func(b []byte, v reflect.Value) []byte
	dec func(d *wire.Reader, v reflect.Value)
}

var (
	payloadInfos sync.Map // reflect.Type -> *payloadInfo
	payloadIDs   sync.Map // uint64 -> *payloadInfo, the registered types
)

// infoOf returns t's payloadInfo, building it on first use.
func infoOf(t reflect.Type) *payloadInfo {
	if p, ok := payloadInfos.Load(t); ok {
		return p.(*payloadInfo)
	}
	name := typeName(t)
	h := fnv.New64a()
	h.Write([]byte(name))
	p := &payloadInfo{t: t, name: name, id: h.Sum64()}
	var shape strings.Builder
	if c := compilePlain(t, &shape, map[reflect.Type]bool{}); c != nil {
		p.plain = c
		s := fnv.New32a()
		s.Write([]byte(shape.String()))
		p.shape = s.Sum32()
	}
	actual, _ := payloadInfos.LoadOrStore(t, p)
	return actual.(*payloadInfo)
}

var readers = sync.Pool{New: func() any { return new(wire.Reader) }}

var errPlainShort = errors.New("beamtranslate: truncated payload")

func (p *payloadInfo) encode(b []byte, v any) []byte {
	b = append(b, payloadPlain)
	b = binary.LittleEndian.AppendUint64(b, p.id)
	b = binary.LittleEndian.AppendUint32(b, p.shape)
	return p.plain.enc(b, reflect.ValueOf(v))
}

// plainPayload reads a payload the plain codec wrote (after its encoding
// byte).
func (d *decoder) plainPayload() (any, error) {
	head := d.Take(12)
	if d.Err != nil {
		return nil, d.Err
	}
	id, shape := binary.LittleEndian.Uint64(head), binary.LittleEndian.Uint32(head[8:])
	v, ok := payloadIDs.Load(id)
	if !ok {
		return nil, fmt.Errorf("beamtranslate: payload type #%016x is not a type of any registered pipeline", id)
	}
	p := v.(*payloadInfo)
	if p.plain == nil || p.shape != shape {
		return nil, fmt.Errorf("beamtranslate: payload of type %s was encoded from another definition of that type (its fields differ from this build's); "+
			"state written before the type changed cannot be read: let the pipeline drain before changing a payload or accumulator type, or remove the runner's state directory to replay from the committed offsets", p.name)
	}
	x := reflect.New(p.t).Elem()
	// The codec gets a pooled reader: d itself would escape to the heap
	// through the codec's func values, costing every element decoded an
	// allocation.
	r := readers.Get().(*wire.Reader)
	*r = d.Reader
	p.plain.dec(r, x)
	d.Reader = *r
	*r = wire.Reader{}
	readers.Put(r)
	if d.Err != nil {
		return nil, d.Err
	}
	return x.Interface(), nil
}

var (
	timeType           = reflect.TypeFor[time.Time]()
	ownEncodingMethods = []string{"MarshalJSON", "MarshalJSONTo", "MarshalText", "AppendText"}
	ownDecodingMethods = []string{"UnmarshalJSON", "UnmarshalJSONFrom", "UnmarshalText"}
)

// ownEncoding reports whether t (or *t) has a JSON or text encoding of
// its own, which the plain codec would bypass.
func ownEncoding(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	for _, m := range ownEncodingMethods {
		if _, ok := t.MethodByName(m); ok {
			return true
		}
		if _, ok := pt.MethodByName(m); ok {
			return true
		}
	}
	for _, m := range ownDecodingMethods {
		if _, ok := pt.MethodByName(m); ok {
			return true
		}
	}
	return false
}

// compilePlain returns the plain codec of t, or nil if t is not plain. It
// writes t's shape to shape; visiting holds the types being compiled, to
// refuse recursive types.
func compilePlain(t reflect.Type, shape *strings.Builder, visiting map[reflect.Type]bool) *plainCodec {
	if t == timeType {
		shape.WriteString("time")
		return &plainCodec{
			enc: func(b []byte, v reflect.Value) []byte {
				bin, err := v.Interface().(time.Time).MarshalBinary()
				if err != nil {
					// Only a zone offset that is not whole minutes fails;
					// keep the instant.
					bin, _ = v.Interface().(time.Time).UTC().MarshalBinary()
				}
				return wire.AppendBytes(b, bin)
			},
			dec: func(d *wire.Reader, v reflect.Value) {
				bin := d.Bytes()
				if d.Err != nil {
					return
				}
				var tm time.Time
				if err := tm.UnmarshalBinary(bin); err != nil {
					d.Err = fmt.Errorf("beamtranslate: payload time: %w", err)
					return
				}
				v.Set(reflect.ValueOf(tm))
			},
		}
	}
	if visiting[t] || ownEncoding(t) {
		return nil
	}
	visiting[t] = true
	defer delete(visiting, t)
	switch t.Kind() {
	case reflect.Bool:
		shape.WriteString("bool")
		return &plainCodec{
			enc: func(b []byte, v reflect.Value) []byte {
				if v.Bool() {
					return append(b, 1)
				}
				return append(b, 0)
			},
			dec: func(d *wire.Reader, v reflect.Value) {
				if x := d.Take(1); x != nil {
					v.SetBool(x[0] != 0)
				}
			},
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		shape.WriteString("int")
		return &plainCodec{
			enc: func(b []byte, v reflect.Value) []byte { return binary.AppendVarint(b, v.Int()) },
			dec: func(d *wire.Reader, v reflect.Value) {
				x := d.Varint()
				if v.OverflowInt(x) {
					d.Err = fmt.Errorf("beamtranslate: payload: %d overflows %s", x, v.Type())
					return
				}
				v.SetInt(x)
			},
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		shape.WriteString("uint")
		return &plainCodec{
			enc: func(b []byte, v reflect.Value) []byte { return binary.AppendUvarint(b, v.Uint()) },
			dec: func(d *wire.Reader, v reflect.Value) {
				x := d.Uvarint()
				if v.OverflowUint(x) {
					d.Err = fmt.Errorf("beamtranslate: payload: %d overflows %s", x, v.Type())
					return
				}
				v.SetUint(x)
			},
		}
	case reflect.Float32, reflect.Float64:
		shape.WriteString("float")
		return &plainCodec{
			enc: func(b []byte, v reflect.Value) []byte {
				return binary.LittleEndian.AppendUint64(b, math.Float64bits(v.Float()))
			},
			dec: func(d *wire.Reader, v reflect.Value) {
				if x := d.Take(8); x != nil {
					v.SetFloat(math.Float64frombits(binary.LittleEndian.Uint64(x)))
				}
			},
		}
	case reflect.String:
		shape.WriteString("string")
		return &plainCodec{
			enc: func(b []byte, v reflect.Value) []byte { return wire.AppendBytes(b, v.String()) },
			dec: func(d *wire.Reader, v reflect.Value) { v.SetString(d.Text()) },
		}
	case reflect.Pointer:
		shape.WriteString("*")
		elem := compilePlain(t.Elem(), shape, visiting)
		if elem == nil {
			return nil
		}
		return &plainCodec{
			enc: func(b []byte, v reflect.Value) []byte {
				if v.IsNil() {
					return append(b, 0)
				}
				return elem.enc(append(b, 1), v.Elem())
			},
			dec: func(d *wire.Reader, v reflect.Value) {
				if x := d.Take(1); x != nil && x[0] != 0 {
					p := reflect.New(t.Elem())
					elem.dec(d, p.Elem())
					v.Set(p)
				}
			},
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && !ownEncoding(t.Elem()) {
			shape.WriteString("bytes") // JSON's base64 string
			return bytesCodec(t)
		}
		shape.WriteString("[]")
		elem := compilePlain(t.Elem(), shape, visiting)
		if elem == nil {
			return nil
		}
		return &plainCodec{
			enc: func(b []byte, v reflect.Value) []byte {
				if v.IsNil() {
					return append(b, 0)
				}
				b = binary.AppendUvarint(b, uint64(v.Len())+1)
				for i := range v.Len() {
					b = elem.enc(b, v.Index(i))
				}
				return b
			},
			dec: func(d *wire.Reader, v reflect.Value) {
				n := d.Uvarint()
				if d.Err != nil || n == 0 {
					return
				}
				n--
				if n > uint64(len(d.B)) { // every element takes a byte or more
					d.Err = errPlainShort
					return
				}
				s := reflect.MakeSlice(t, int(n), int(n))
				for i := range int(n) {
					elem.dec(d, s.Index(i))
				}
				v.Set(s)
			},
		}
	case reflect.Array:
		shape.WriteString("[" + strconv.Itoa(t.Len()) + "]")
		elem := compilePlain(t.Elem(), shape, visiting)
		if elem == nil {
			return nil
		}
		return &plainCodec{
			enc: func(b []byte, v reflect.Value) []byte {
				for i := range v.Len() {
					b = elem.enc(b, v.Index(i))
				}
				return b
			},
			dec: func(d *wire.Reader, v reflect.Value) {
				for i := range v.Len() {
					elem.dec(d, v.Index(i))
				}
			},
		}
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			return nil
		}
		shape.WriteString("map[")
		key := compilePlain(t.Key(), shape, visiting)
		shape.WriteString("]")
		elem := compilePlain(t.Elem(), shape, visiting)
		if key == nil || elem == nil {
			return nil
		}
		return &plainCodec{
			enc: func(b []byte, v reflect.Value) []byte {
				if v.IsNil() {
					return append(b, 0)
				}
				b = binary.AppendUvarint(b, uint64(v.Len())+1)
				for it := v.MapRange(); it.Next(); {
					b = key.enc(b, it.Key())
					b = elem.enc(b, it.Value())
				}
				return b
			},
			dec: func(d *wire.Reader, v reflect.Value) {
				n := d.Uvarint()
				if d.Err != nil || n == 0 {
					return
				}
				n--
				if n > uint64(len(d.B)) {
					d.Err = errPlainShort
					return
				}
				m := reflect.MakeMapWithSize(t, int(n))
				k, e := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
				for range n {
					k.SetZero()
					e.SetZero()
					key.dec(d, k)
					elem.dec(d, e)
					if d.Err != nil {
						return
					}
					m.SetMapIndex(k, e)
				}
				v.Set(m)
			},
		}
	case reflect.Struct:
		return compileStruct(t, shape, visiting)
	}
	return nil
}

// bytesCodec is the codec of byte slice type t.
func bytesCodec(t reflect.Type) *plainCodec {
	return &plainCodec{
		enc: func(b []byte, v reflect.Value) []byte {
			if v.IsNil() {
				return append(b, 0)
			}
			b = binary.AppendUvarint(b, uint64(v.Len())+1)
			return append(b, v.Bytes()...)
		},
		dec: func(d *wire.Reader, v reflect.Value) {
			n := d.Uvarint()
			if d.Err != nil || n == 0 {
				return
			}
			raw := d.Take(n - 1)
			if d.Err != nil {
				return
			}
			// A copy: the input may be a reused buffer.
			s := reflect.MakeSlice(t, len(raw), len(raw))
			copy(s.Bytes(), raw)
			v.Set(s)
		},
	}
}

// compileStruct compiles a struct of the fields JSON would encode: the
// exported ones not tagged `json:"-"`.
func compileStruct(t reflect.Type, shape *strings.Builder, visiting map[reflect.Type]bool) *plainCodec {
	type field struct {
		index int
		codec *plainCodec
	}
	var fields []field
	names := map[string]bool{}
	shape.WriteString("{")
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil // JSON promotes embedded fields; leave that to JSON
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		lower := strings.ToLower(name)
		if names[lower] {
			return nil // JSON's rules for clashing names are its own
		}
		names[lower] = true
		shape.WriteString(name + ":")
		c := compilePlain(f.Type, shape, visiting)
		if c == nil {
			return nil
		}
		shape.WriteString(";")
		fields = append(fields, field{i, c})
	}
	shape.WriteString("}")
	return &plainCodec{
		enc: func(b []byte, v reflect.Value) []byte {
			for _, f := range fields {
				b = f.codec.enc(b, v.Field(f.index))
			}
			return b
		},
		dec: func(d *wire.Reader, v reflect.Value) {
			for _, f := range fields {
				f.codec.dec(d, v.Field(f.index))
			}
		},
	}
}
