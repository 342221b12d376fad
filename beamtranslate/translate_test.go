package beamtranslate

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	os.Exit(m.Run())
}

type ev struct {
	Type string `json:"type"`
	N    int    `json:"n"`
}

func bindings(sinks ...string) Bindings {
	cc := kafka.ClientConfig{Brokers: []string{"kafka:9092"}}
	b := Bindings{
		Source: SourceBinding{Client: cc, Topic: "events", Group: "g", StartOffset: "earliest"},
		Sinks:  map[string]SinkBinding{},
	}
	for _, s := range sinks {
		b.Sinks[s] = SinkBinding{Client: cc, Topic: s + "-topic"}
	}
	return b
}

var goldenCases = []struct {
	name string
	p    func() dsl.Pipeline
	b    func() Bindings
}{
	{"seed_with_dlq", func() dsl.Pipeline {
		return dsl.StreamingSource("myinput", "events").
			Apply("mymap", dsl.Parser[ev]()).
			Apply("myfilter", dsl.Filter(func(e ev) bool { return e.Type == "event" })).
			Apply("serializer", dsl.Serializer[ev]()).
			Sink("myoutput", dsl.StreamSink("transformed-events"))
	}, func() Bindings {
		b := bindings("myoutput")
		b.Source.DLQ = &DLQBinding{Client: b.Source.Client, Topic: "events-dlq"}
		return b
	}},
	{"route_broadcast_no_dlq", func() dsl.Pipeline {
		return dsl.StreamingSource("in", "events").
			Apply("parse", dsl.Parser[ev]()).
			Route("route", func(e ev) (string, error) { return e.Type, nil },
				dsl.Branch[ev]("a").Apply("ser", dsl.Serializer[ev]()).Sink("out-a", dsl.StreamSink("a")),
				dsl.Branch[ev]("b").Broadcast("copy",
					dsl.Branch[ev]("b1").Sink("null", dsl.DevNullSink[ev]()),
					dsl.Branch[ev]("b2").Apply("explode", dsl.FlatMap(func(e ev) ([]ev, error) { return []ev{e, e}, nil })).
						Apply("ser2", dsl.Serializer[ev]()).Sink("out-b", dsl.StreamSink("b")),
				),
			)
	}, func() Bindings { return bindings("out-a", "out-b") }},
	{"reduce_and_batch", func() dsl.Pipeline {
		return dsl.StreamingSource("in", "events").
			Apply("parse", dsl.Parser[ev]()).
			Apply("valid", dsl.Filter(func(e ev) bool { return e.Type != "" })).
			Apply("count", dsl.Reduce(dsl.TumblingWindow(10*time.Second), func(e ev) string { return e.Type }, dsl.Count[ev]())).
			Apply("batch", dsl.Batch[dsl.Windowed[string, int]](100, time.Second)).
			Apply("ser", dsl.Serializer[[]dsl.Windowed[string, int]]()).
			Sink("out", dsl.StreamSink("counts"))
	}, func() Bindings { return bindings("out") }},
	{"windowed_late_dlq", windowedPipeline, func() Bindings {
		b := bindings("out")
		b.Source.DLQ = &DLQBinding{Client: b.Source.Client, Topic: "events-dlq"}
		b.LateToDLQ = []string{"count"}
		return b
	}},
}

// TestGolden compares the translated transform tree with testdata/*.golden
// (rewrite them with go test -update).
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := tc.p().Build()
			if err != nil {
				t.Fatal(err)
			}
			p, err := Translate("golden-"+tc.name, g, tc.b())
			if err != nil {
				t.Fatal(err)
			}
			got := describe(t, p)
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("transform tree differs from %s (go test -update rewrites it):\n--- got\n%s", path, got)
			}
		})
	}
}

// describe prints the pipeline proto's transform tree: names, URNs and the
// PCollections each transform reads and writes.
func describe(t *testing.T, p *beam.Pipeline) string {
	edges, _, err := p.Build()
	if err != nil {
		t.Fatal(err)
	}
	pb, err := graphx.Marshal(edges, &graphx.Options{Environment: &pipepb.Environment{Urn: "beam:env:loopback:v1"}})
	if err != nil {
		t.Fatal(err)
	}
	comps := pb.GetComponents()
	var b strings.Builder
	var walk func(ids []string, depth int)
	walk = func(ids []string, depth int) {
		sort.Slice(ids, func(i, j int) bool {
			return comps.Transforms[ids[i]].GetUniqueName() < comps.Transforms[ids[j]].GetUniqueName()
		})
		for _, id := range ids {
			tr := comps.Transforms[id]
			fmt.Fprintf(&b, "%s%s [%s]", strings.Repeat("  ", depth), tr.GetUniqueName(), tr.GetSpec().GetUrn())
			if len(tr.GetSubtransforms()) == 0 {
				fmt.Fprintf(&b, " in=%v out=%v", pcolNames(comps, tr.GetInputs()), pcolNames(comps, tr.GetOutputs()))
			}
			b.WriteString("\n")
			walk(tr.GetSubtransforms(), depth+1)
		}
	}
	walk(pb.GetRootTransformIds(), 0)
	return b.String()
}

func pcolNames(comps *pipepb.Components, m map[string]string) []string {
	var out []string
	for _, id := range m {
		pc := comps.Pcollections[id]
		bounded := "bounded"
		if pc.GetIsBounded() == pipepb.IsBounded_UNBOUNDED {
			bounded = "unbounded"
		}
		out = append(out, fmt.Sprintf("%s(%s)", id, bounded))
	}
	sort.Strings(out)
	return out
}

func TestTranslateNeedsSinkBindings(t *testing.T) {
	g := dsl.StreamingSource("in", "events").Sink("out", dsl.StreamSink("x")).MustBuild()
	if _, err := Translate("no-binding", g, bindings()); err == nil || !strings.Contains(err.Error(), "sink out has no binding") {
		t.Errorf("missing sink binding: %v", err)
	}
	b := bindings("out")
	b.Source.Client.Properties = map[string]string{"no.such.property": "1"}
	if _, err := Translate("bad-props", g, b); err == nil || !strings.Contains(err.Error(), "source in") {
		t.Errorf("bad source client config: %v", err)
	}
}

func TestElementCoderRoundTrip(t *testing.T) {
	Register("coder-test", dsl.StreamingSource("in", "x").
		Apply("p", dsl.Parser[ev]()).
		Apply("m", dsl.Map(func(e ev) (map[string]int, error) { return map[string]int{e.Type: e.N}, nil })).
		Sink("s", dsl.DevNullSink[map[string]int]()).MustBuild())
	hs := []dsl.Header{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}}
	o := origin{Topic: "t", Partition: 3, Offset: 1 << 40, Key: []byte("k"), Value: []byte("v"), Headers: hs}
	for _, e := range []element{
		{Payload: []byte("raw"), Key: []byte("k"), Headers: hs, Origin: &o},
		{Payload: []byte{}, Origin: &o},
		{Payload: "text", Branch: "left"},
		{Payload: ev{Type: "event", N: 7}, Origin: &o},
		{Payload: map[string]int{"x": 1}},
		{Payload: nil},
	} {
		b, err := encodeElement(e)
		if err != nil {
			t.Fatalf("encode %+v: %v", e, err)
		}
		got, err := decodeElement(b)
		if err != nil {
			t.Fatalf("decode %+v: %v", e, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(e)) {
			t.Errorf("round trip\n got %#v\nwant %#v", got, e)
		}
		for i := range b {
			// A truncated element is an error (or, cut inside trailing empty
			// fields, still decodes); it never panics.
			_, _ = decodeElement(b[:i])
		}
	}
	type unknown struct{ X int }
	b, _ := encodeElement(element{Payload: unknown{1}})
	if _, err := decodeElement(b); err == nil || !strings.Contains(err.Error(), "not a type of any registered pipeline") {
		t.Errorf("unregistered payload type: %v", err)
	}
	v := invalid{Step: "s", Error: "boom", Origin: o}
	vb, _ := encodeInvalid(v)
	if got, err := decodeInvalid(vb); err != nil || !reflect.DeepEqual(got, v) {
		t.Errorf("invalid round trip: %+v %v", got, err)
	}
}

func normalize(e element) element {
	if len(e.Key) == 0 {
		e.Key = nil
	}
	for i := range e.Headers {
		if len(e.Headers[i].Value) == 0 {
			e.Headers[i].Value = nil
		}
	}
	if e.Origin != nil {
		o := *e.Origin
		o.Headers = slices.Clone(o.Headers)
		for i := range o.Headers {
			if len(o.Headers[i].Value) == 0 {
				o.Headers[i].Value = nil
			}
		}
		e.Origin = &o
	}
	return e
}
