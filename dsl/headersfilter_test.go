package dsl_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/dsl"
)

// TestHeadersFilter: a message is kept when a header of the name holds
// one of the values as a decimal integer, dropped when none does, and
// rejected, naming the step, the header and the value, when a value is
// not a decimal integer; as in Sentry Streams' HeadersFilter.
func TestHeadersFilter(t *testing.T) {
	g := dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Map(func(b []byte) (string, error) { return string(b), nil })).
		Apply("pid", dsl.HeadersFilter[string]("pid", 42, -1)).
		Sink("out", dsl.DevNullSink[string]()).MustBuild()
	if n := g.Node("pid"); n.Kind() != dsl.KindFilter || n.InType() != reflect.TypeFor[string]() || n.OutType() != n.InType() {
		t.Fatalf("node %s: %v from %v to %v", n.Name(), n.Kind(), n.InType(), n.OutType())
	}
	type h = dsl.Header
	for _, tc := range []struct {
		name    string
		headers []dsl.Header
		keep    bool
		reject  string // the cause, when rejected
	}{
		{"no headers", nil, false, ""},
		{"other headers", []h{{"org", []byte("42")}}, false, ""},
		{"empty value", []h{{"pid", nil}}, false, ""},
		{"another integer", []h{{"pid", []byte("41")}}, false, ""},
		{"a value", []h{{"pid", []byte("42")}}, true, ""},
		{"the other value", []h{{"pid", []byte("-1")}}, true, ""},
		{"a sign", []h{{"pid", []byte("+42")}}, true, ""},
		{"leading zeros", []h{{"pid", []byte("0042")}}, true, ""},
		{"a match among others", []h{{"pid", []byte("7")}, {"org", []byte("x")}, {"pid", []byte("42")}}, true, ""},
		{"an empty one and a match", []h{{"pid", nil}, {"pid", []byte("42")}}, true, ""},
		{"name is case-sensitive", []h{{"PID", []byte("42")}}, false, ""},
		{"not a number", []h{{"pid", []byte("abc")}}, false, `header pid: value "abc" is not a decimal integer`},
		{"a space", []h{{"pid", []byte(" 42")}}, false, `value " 42"`},
		{"a fraction", []h{{"pid", []byte("42.0")}}, false, `value "42.0"`},
		{"beyond int64", []h{{"pid", []byte("9223372036854775808")}}, false, `value "9223372036854775808"`},
		{"not UTF-8", []h{{"pid", []byte{0xff}}}, false, `value "\xff"`},
		{"hex", []h{{"pid", []byte("0x2a")}}, false, `value "0x2a"`},
		{"a bad value beside a match", []h{{"pid", []byte("42")}, {"pid", []byte("x")}}, false, `value "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := dsl.Any{Payload: "p", Key: []byte("k"), Headers: tc.headers, Timestamp: time.UnixMilli(1700000000123)}
			out, err := run(t, g.Node("pid"), in)
			if tc.reject != "" {
				var inv *dsl.InvalidError
				if !errors.As(err, &inv) || inv.Step != "pid" || !strings.Contains(err.Error(), tc.reject) {
					t.Errorf("got %v, want an InvalidError of step pid with %q", err, tc.reject)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.keep && (len(out) != 1 || !reflect.DeepEqual(out[0], in)):
				t.Errorf("kept %+v, want the message unchanged: %+v", out, in)
			case !tc.keep && len(out) != 0:
				t.Errorf("kept %+v", out)
			}
		})
	}
}

func TestHeadersFilterBuildErrors(t *testing.T) {
	_, err := dsl.StreamingSource("src", "in").
		Apply("noname", dsl.HeadersFilter[[]byte]("", 1)).
		Apply("novalues", dsl.HeadersFilter[[]byte]("pid")).
		Sink("out", dsl.DevNullSink[[]byte]()).Build()
	for _, want := range []string{
		`step "noname": headers filter: the header name is empty`,
		`step "novalues": headers filter: no values to keep for header "pid"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// HeadersFilter keeps the messages whose header holds one of the values,
// and rejects those whose header is not an integer.
func ExampleHeadersFilter() {
	g := dsl.StreamingSource("in", "events").
		Apply("project-42", dsl.HeadersFilter[[]byte]("project_id", 42)).
		Sink("out", dsl.StreamSink("project-42-events")).MustBuild()
	for _, pid := range []string{"42", "7", "", "forty-two"} {
		m := dsl.Any{Payload: []byte("event"), Headers: []dsl.Header{{Key: "project_id", Value: []byte(pid)}}}
		kept := false
		if err := g.Node("project-42").Process(m, func(dsl.Any) { kept = true }); err != nil {
			fmt.Printf("project_id %q: %v\n", pid, err)
			continue
		}
		fmt.Printf("project_id %q: kept %v\n", pid, kept)
	}
	// Output:
	// project_id "42": kept true
	// project_id "7": kept false
	// project_id "": kept false
	// project_id "forty-two": step project-42: invalid message: header project_id: value "forty-two" is not a decimal integer
}
