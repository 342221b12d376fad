package component

import (
	"fmt"
	"strings"
	"time"
)

// Type is how a key's value is written in YAML and held once decoded.
type Type int

// The types of keys.
const (
	// Int is an integer.
	Int Type = iota + 1
	// Millis is a number of milliseconds, held as a time.Duration.
	Millis
	// String is a string.
	String
	// Strings is a list of strings; a string alone is a list of one, and
	// a comma-separated string a list of its parts (bootstrap_servers).
	Strings
	// StringMap is a mapping of strings to strings (override_params).
	StringMap
)

func (t Type) String() string {
	switch t {
	case Int:
		return "integer"
	case Millis:
		return "milliseconds"
	case String:
		return "string"
	case Strings:
		return "list of strings"
	case StringMap:
		return "mapping of strings"
	}
	return fmt.Sprintf("Type(%d)", int(t))
}

// Value is one decoded value.
type Value struct {
	typ Type
	i   int
	d   time.Duration
	s   string
	l   []string
	m   map[string]string
}

// IntValue, MillisValue, StringValue, StringsValue and StringMapValue
// make values, for configs built in Go. The last two keep the list or
// map they are given (a value is read, never changed).
func IntValue(i int) Value                     { return Value{typ: Int, i: i} }
func MillisValue(d time.Duration) Value        { return Value{typ: Millis, d: d} }
func StringValue(s string) Value               { return Value{typ: String, s: s} }
func StringsValue(l []string) Value            { return Value{typ: Strings, l: l} }
func StringMapValue(m map[string]string) Value { return Value{typ: StringMap, m: m} }

// Int, Duration, Str, List and Map read a value; each is zero for a
// value of another type.
func (v Value) Int() int                { return v.i }
func (v Value) Duration() time.Duration { return v.d }
func (v Value) Str() string             { return v.s }
func (v Value) List() []string          { return v.l }
func (v Value) Map() map[string]string  { return v.m }

// Type is the value's type.
func (v Value) Type() Type { return v.typ }

// Values are a step's values of component keys, by key: those set in
// its steps_config entry (or, in a config built in Go, put in the map).
type Values map[string]Value

// IsSet reports whether key has a value.
func (v Values) IsSet(key string) bool {
	_, ok := v[key]
	return ok
}

// Int, Duration, Str, List and Map return key's value, or zero when it
// is not set.
func (v Values) Int(key string) int                { return v[key].i }
func (v Values) Duration(key string) time.Duration { return v[key].d }
func (v Values) Str(key string) string             { return v[key].s }
func (v Values) List(key string) []string          { return v[key].l }
func (v Values) Map(key string) map[string]string  { return v[key].m }

// AtLeast checks that an integer is at least n.
func AtLeast(n int) func(Value) string {
	return func(v Value) string {
		if v.i < n {
			return fmt.Sprintf("must be at least %d; got %d", n, v.i)
		}
		return ""
	}
}

// Positive checks that a duration is more than zero.
func Positive(v Value) string {
	if v.d <= 0 {
		return fmt.Sprintf("must be positive; got %v", ms(v.d))
	}
	return ""
}

// NotNegative checks that a duration is zero or more.
func NotNegative(v Value) string {
	if v.d < 0 {
		return fmt.Sprintf("must not be negative; got %v", ms(v.d))
	}
	return ""
}

// NotEmpty checks that a string is not empty.
func NotEmpty(v Value) string {
	if v.s == "" {
		return "must not be empty"
	}
	return ""
}

// NotBlank checks that a string has more than white space.
func NotBlank(v Value) string {
	if strings.TrimSpace(v.s) == "" {
		return "must not be empty"
	}
	return ""
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
