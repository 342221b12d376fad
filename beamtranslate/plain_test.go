package beamtranslate

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/internal/wire"
)

type plainInner struct {
	Name  string
	Score float64
}

type plainAll struct {
	B       bool           `json:"b"`
	I       int            `json:"i,omitempty"`
	I8      int8           `json:"i8"`
	U       uint64         `json:"u"`
	F32     float32        `json:"f32"`
	S       string         `json:"s"`
	Raw     []byte         `json:"raw"`
	NilRaw  []byte         `json:"nil_raw"`
	T       time.Time      `json:"t"`
	Ptr     *plainInner    `json:"ptr"`
	NilPtr  *plainInner    `json:"nil_ptr"`
	List    []plainInner   `json:"list"`
	Empty   []int          `json:"empty"`
	NilList []int          `json:"nil_list"`
	Arr     [3]int16       `json:"arr"`
	M       map[string]int `json:"m"`
	IntKeys map[int]string `json:"int_keys"`
	NilMap  map[string]int `json:"nil_map"`
	Skipped string         `json:"-"`
	hidden  int
}

type withJSON struct{ X int }

func (w withJSON) MarshalJSON() ([]byte, error) { return []byte(`"custom"`), nil }

type withText struct{ X int }

func (w *withText) UnmarshalText([]byte) error { return nil }

type embeds struct {
	plainInner
	Y int
}

type clash struct {
	A int `json:"x"`
	B int `json:"X"`
}

type recursive struct {
	Next *recursive
	V    int
}

type holdsAny struct{ V any }

// TestPlainCodecMatchesJSON: a plain type's round trip through the element
// coder gives what a JSON round trip gives.
func TestPlainCodecMatchesJSON(t *testing.T) {
	registerPayloadType(reflect.TypeFor[plainAll]())
	registerPayloadType(reflect.TypeFor[[]plainInner]())
	registerPayloadType(reflect.TypeFor[map[string][]int64]())
	registerPayloadType(reflect.TypeFor[int32]())
	in := plainAll{
		B: true, I: -1 << 40, I8: -7, U: math.MaxUint64, F32: 1.5, S: "héllo <&> \"x\"",
		Raw: []byte{0, 1, 2}, T: time.Date(2024, 2, 29, 13, 4, 5, 123456789, time.FixedZone("X", 5400)),
		Ptr: &plainInner{"p", 2.25}, List: []plainInner{{"a", 1}, {"b", -2}}, Empty: []int{},
		Arr: [3]int16{1, -2, 3}, M: map[string]int{"one": 1, "two": 2}, IntKeys: map[int]string{-3: "m"},
		Skipped: "dropped", hidden: 9,
	}
	for _, v := range []any{in, []plainInner{{"z", 0}}, map[string][]int64{"k": {1, 2}}, int32(-5)} {
		if infoOf(reflect.TypeOf(v)).plain == nil {
			t.Fatalf("%T is not coded plain", v)
		}
		b, err := appendPayload(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != payloadPlain {
			t.Fatalf("%T: encoding %d, want plain", v, b[0])
		}
		got, err := newDecoder(b).payload()
		if err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		want := reflect.New(reflect.TypeOf(v))
		if err := json.Unmarshal(js, want.Interface()); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalizeTimes(got), normalizeTimes(want.Elem().Interface())) {
			t.Errorf("%T:\nplain %#v\n json %#v", v, got, want.Elem().Interface())
		}
		for i := range b {
			// Truncated input is an error, never a panic.
			if _, err := newDecoder(b[:i]).payload(); err == nil {
				t.Errorf("%T: %d of %d bytes decoded without error", v, i, len(b))
			}
		}
	}
}

// normalizeTimes makes plainAll's time comparable: JSON and the binary
// form both keep the instant and the offset, and neither the zone name.
func normalizeTimes(v any) any {
	if a, ok := v.(plainAll); ok {
		_, off := a.T.Zone()
		a.T = a.T.In(time.FixedZone("", off))
		return a
	}
	return v
}

func TestPlainCodecRefuses(t *testing.T) {
	for _, v := range []any{withJSON{}, withText{}, embeds{}, clash{}, recursive{}, holdsAny{}, []withJSON{}, map[[2]int]int{}, complex(1, 2), json.RawMessage("1")} {
		if infoOf(reflect.TypeOf(v)).plain != nil {
			t.Errorf("%T is coded plain; it needs JSON", v)
		}
	}
	registerPayloadType(reflect.TypeFor[withJSON]())
	b, err := appendPayload(nil, withJSON{X: 1})
	if err != nil || b[0] != payloadJSON {
		t.Fatalf("withJSON: encoding %v, %v; want JSON", b, err)
	}
}

// TestPlainCodecChangedType: a payload written by a build whose type had
// other fields fails to decode, naming the type, rather than misreading.
func TestPlainCodecChangedType(t *testing.T) {
	registerPayloadType(reflect.TypeFor[plainInner]())
	b, err := appendPayload(nil, plainInner{"a", 1})
	if err != nil {
		t.Fatal(err)
	}
	b[9] ^= 0xff // the shape hash
	_, err = newDecoder(b).payload()
	if err == nil || !strings.Contains(err.Error(), "plainInner") || !strings.Contains(err.Error(), "another definition") {
		t.Errorf("changed type: %v", err)
	}
}

// TestPayloadJSONStillDecodes: a plain type's payload in the JSON form,
// as builds before the plain codec wrote it (state in a Pebble database
// outlives a build), still decodes.
func TestPayloadJSONStillDecodes(t *testing.T) {
	registerPayloadType(reflect.TypeFor[plainInner]())
	want := plainInner{Name: "old", Score: 1.5}
	js, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	b := append([]byte{payloadJSON}, wire.AppendBytes(nil, typeName(reflect.TypeFor[plainInner]()))...)
	b = wire.AppendBytes(b, js)
	got, err := newDecoder(b).payload()
	if err != nil || got != any(want) {
		t.Errorf("JSON-encoded payload: %#v, %v; want %#v", got, err, want)
	}
}
