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

func run(t *testing.T, n *dsl.Node, in dsl.Any) ([]dsl.Any, error) {
	t.Helper()
	var out []dsl.Any
	err := n.Process(in, func(m dsl.Any) { out = append(out, m) })
	return out, err
}

func TestBuildReportsEveryProblem(t *testing.T) {
	_, err := dsl.StreamingSource("src", "events").
		Apply("dup", dsl.Map(func(b []byte) (string, error) { return string(b), nil })).
		Apply("dup", dsl.Filter(func(string) bool { return true })).
		Apply("nilmap", dsl.Map[string, string](nil)).
		Route("route", func(s string) (string, error) { return s, nil },
			dsl.Branch[int]("wrongtype").Sink("s1", dsl.DevNullSink[int]()),
			dsl.Branch[string]("open").Apply("m", dsl.Map(func(s string) (string, error) { return s, nil })),
			dsl.Branch[string]("bad name!").Sink("s2", dsl.DevNullSink[string]()),
		).Build()
	var be *dsl.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("want *BuildError, got %v", err)
	}
	want := []string{
		`duplicate step name "dup"`,
		`step "nilmap": map function is nil`,
		`branch "wrongtype" takes int, but the stream carries string`,
		`step name "bad name!"`,
		`branch "open" ends at step "m" without a sink`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if len(be.Problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(be.Problems), len(want), err)
	}
}

func TestBuildRefusesBranchAsPipelineAndReuse(t *testing.T) {
	if _, err := dsl.Branch[string]("b").Sink("s", dsl.DevNullSink[string]()).Build(); err == nil ||
		!strings.Contains(err.Error(), "does not start with dsl.StreamingSource") {
		t.Errorf("branch built alone: %v", err)
	}
	br := dsl.Branch[[]byte]("b").Sink("s", dsl.DevNullSink[[]byte]())
	src := dsl.StreamingSource("src", "in")
	_, err := src.Broadcast("fan", br, br).Build()
	if err == nil || !strings.Contains(err.Error(), `branch "b" is already attached to "fan"`) {
		t.Errorf("reused branch: %v", err)
	}
	s := dsl.StreamingSource("src", "in")
	s.Sink("a", dsl.DevNullSink[[]byte]())
	_, err = s.Sink("b", dsl.DevNullSink[[]byte]()).Build()
	if err == nil || !strings.Contains(err.Error(), "use Broadcast") {
		t.Errorf("stream used twice: %v", err)
	}
	if _, err := (dsl.Pipeline{}).Build(); err == nil {
		t.Error("empty pipeline built")
	}
}

func TestGraphShape(t *testing.T) {
	g, err := dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Parser[map[string]any]()).
		Broadcast("fan",
			dsl.Branch[map[string]any]("left").Apply("ser", dsl.Serializer[map[string]any]()).Sink("out", dsl.StreamSink("out")),
			dsl.Branch[map[string]any]("right").Sink("null", dsl.DevNullSink[map[string]any]()),
		).Build()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range g.Nodes() {
		names = append(names, fmt.Sprintf("%s:%s", n.Name(), n.Kind()))
	}
	want := "src:source parse:parser fan:broadcast left:branch ser:serializer out:sink right:branch null:sink"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("nodes\n got %s\nwant %s", got, want)
	}
	if got := g.Node("fan").Outputs(); !reflect.DeepEqual(got, []string{"left", "right"}) {
		t.Errorf("fan outputs %v", got)
	}
	if g.Source().Name() != "src" || len(g.Sinks()) != 2 || g.Sinks()[0].SinkKind() != dsl.SinkDevNull {
		t.Errorf("source %s sinks %v", g.Source().Name(), g.Sinks())
	}
	if g.Node("parse").OutType() != reflect.TypeFor[map[string]any]() {
		t.Errorf("parse out type %v", g.Node("parse").OutType())
	}
}

func TestStepsKeepMetadataAndReportFailures(t *testing.T) {
	ts := time.UnixMilli(1700000000123)
	in := dsl.Any{Payload: []byte("3"), Key: []byte("k"), Headers: []dsl.Header{{Key: "h", Value: []byte("v")}}, Timestamp: ts}
	g := dsl.StreamingSource("src", "in").
		Apply("num", dsl.Parser[int]()).
		Apply("explode", dsl.FlatMap(func(n int) ([]int, error) {
			if n < 0 {
				return nil, errors.New("negative")
			}
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out, nil
		})).
		Apply("boom", dsl.Map(func(n int) (int, error) {
			if n == 1 {
				panic("one is not allowed")
			}
			return n * 10, nil
		})).
		Apply("meta", dsl.MapMessage(func(m dsl.Message[int]) (dsl.Message[string], error) {
			out := dsl.Message[string]{Payload: fmt.Sprint(m.Payload), Key: []byte("new"), Timestamp: m.Timestamp.Add(time.Second)}
			return out.WithHeader("seen", []byte("yes")), nil
		})).
		Apply("hdr", dsl.FilterMessage(func(m dsl.Message[string]) bool { v, _ := m.Header("seen"); return string(v) == "yes" })).
		Sink("out", dsl.DevNullSink[string]()).MustBuild()

	parsed, err := run(t, g.Node("num"), in)
	if err != nil || len(parsed) != 1 || parsed[0].Payload != 3 {
		t.Fatalf("parser: %v %v", parsed, err)
	}
	if string(parsed[0].Key) != "k" || parsed[0].Headers[0].Key != "h" || !parsed[0].Timestamp.Equal(ts) {
		t.Errorf("parser lost metadata: %+v", parsed[0])
	}
	exploded, err := run(t, g.Node("explode"), parsed[0])
	if err != nil || len(exploded) != 3 || exploded[2].Payload != 2 || string(exploded[2].Key) != "k" {
		t.Fatalf("flatmap: %v %v", exploded, err)
	}
	_, err = run(t, g.Node("explode"), dsl.Any{Payload: -1})
	var inv *dsl.InvalidError
	if !errors.As(err, &inv) || inv.Step != "explode" || inv.Cause.Error() != "negative" {
		t.Errorf("flatmap error: %v", err)
	}
	_, err = run(t, g.Node("boom"), exploded[1])
	if !errors.As(err, &inv) || inv.Step != "boom" || !strings.Contains(err.Error(), "panic: one is not allowed") {
		t.Errorf("panic not reported as invalid: %v", err)
	}
	out, _ := run(t, g.Node("boom"), exploded[2])
	out, _ = run(t, g.Node("meta"), out[0])
	if out[0].Payload != "20" || string(out[0].Key) != "new" || !out[0].Timestamp.Equal(ts.Add(time.Second)) {
		t.Errorf("map message: %+v", out[0])
	}
	if kept, _ := run(t, g.Node("hdr"), out[0]); len(kept) != 1 {
		t.Errorf("header filter dropped a message with the header")
	}
	_, err = run(t, g.Node("num"), dsl.Any{Payload: []byte("{")})
	if !errors.As(err, &inv) || inv.Step != "num" || !strings.Contains(err.Error(), "invalid json") {
		t.Errorf("parser error: %v", err)
	}
	_, err = run(t, g.Node("boom"), dsl.Any{Payload: "a string"})
	if err == nil || !strings.Contains(err.Error(), "payload is string, step expects int") {
		t.Errorf("type mismatch: %v", err)
	}
}

func TestParserJSONSchema(t *testing.T) {
	schema := []byte(`{"type":"object","required":["type"],"properties":{"type":{"enum":["event","other"]}}}`)
	type ev struct{ Type string }
	g := dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Parser[ev](dsl.WithJSONSchema(schema))).
		Sink("out", dsl.DevNullSink[ev]()).MustBuild()
	if out, err := run(t, g.Node("parse"), dsl.Any{Payload: []byte(`{"type":"event"}`)}); err != nil || out[0].Payload.(ev).Type != "event" {
		t.Errorf("valid payload: %v %v", out, err)
	}
	for _, bad := range []string{`{"type":"nope"}`, `{}`, `[1]`, `nope`} {
		if _, err := run(t, g.Node("parse"), dsl.Any{Payload: []byte(bad)}); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	_, err := run(t, g.Node("parse"), dsl.Any{Payload: []byte(`{"type":"nope"}`)})
	if err == nil || !strings.Contains(err.Error(), "schema validation: at '/type'") || strings.Contains(err.Error(), "\n") {
		t.Errorf("schema error not one line naming the field: %q", err)
	}
	_, err = dsl.StreamingSource("src", "in").
		Apply("parse", dsl.Parser[ev](dsl.WithJSONSchema([]byte(`{"type": 5}`)))).
		Sink("out", dsl.DevNullSink[ev]()).Build()
	if err == nil || !strings.Contains(err.Error(), `step "parse": json schema`) {
		t.Errorf("bad schema: %v", err)
	}
}

func TestRoute(t *testing.T) {
	g := dsl.StreamingSource("src", "in").
		Route("route", func(b []byte) (string, error) {
			if len(b) == 0 {
				return "", errors.New("empty")
			}
			return string(b), nil
		},
			dsl.Branch[[]byte]("a").Sink("sa", dsl.StreamSink("ta")),
			dsl.Branch[[]byte]("b").Sink("sb", dsl.StreamSink("tb")),
		).MustBuild()
	r := g.Node("route")
	if br, err := r.Route(dsl.Any{Payload: []byte("b")}); err != nil || br != "b" {
		t.Errorf("route b: %q %v", br, err)
	}
	if _, err := r.Route(dsl.Any{Payload: []byte("c")}); err == nil || !strings.Contains(err.Error(), `chose "c", branches are a, b`) {
		t.Errorf("unknown branch: %v", err)
	}
	if _, err := r.Route(dsl.Any{Payload: []byte{}}); err == nil || !strings.Contains(err.Error(), "step route") {
		t.Errorf("route error: %v", err)
	}
}
