package beamtranslate

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/wire"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/observe"
)

// encodedDoFn is the bundled runner's fast path (localrunner's
// EncodedDoFn, which this package may not import).
type encodedDoFn interface {
	ProcessEncodedFor(in *coder.Coder, outs []*coder.Coder) bool
	ProcessEncoded(ts beam.EventTime, data []byte, emit func(out int, ts beam.EventTime, value []byte)) (int, error)
	FinishEncodedBundle() error
}

var (
	_ encodedDoFn = (*recordKeyFn)(nil)
	_ encodedDoFn = (*keyStepFn)(nil)
)

// fragile is a payload whose JSON encoding fails for the copy FailOn
// (1 or 2) that the step "twice" makes of it, so that the element coder
// fails on a keyed message.
type fragile struct {
	Shop   string `json:"shop"`
	FailOn int    `json:"fail_on"`
	Copy   int    `json:"copy"`
}

var errFragile = errors.New("fragile: this copy cannot be marshalled")

func (f fragile) MarshalJSON() ([]byte, error) {
	if f.Copy != 0 && f.Copy == f.FailOn {
		return nil, errFragile
	}
	type plain fragile
	return json.Marshal(plain(f))
}

func twiceFragile() dsl.Step[fragile, fragile] {
	return dsl.FlatMap(func(f fragile) ([]fragile, error) {
		a, b := f, f
		a.Copy, b.Copy = 1, 2
		return []fragile{a, b}, nil
	})
}

func countFragile() dsl.Step[fragile, dsl.Windowed[string, int]] {
	return dsl.Reduce(dsl.TumblingWindow(time.Minute), func(f fragile) string {
		if f.Shop == "panic" {
			panic("no key")
		}
		return f.Shop
	}, dsl.Count[fragile]())
}

// encodedOutput is one output of ProcessEncoded, or the SDK's encoding of
// one of ProcessElement's.
type encodedOutput struct {
	Out   int
	TS    beam.EventTime
	Value []byte
}

// pardo is a ParDo of a translated pipeline: its DoFn and the element
// coders of its input and outputs.
type pardo struct {
	fn   any
	in   *coder.Coder
	outs []*coder.Coder
}

// translatedParDos translates g as id, with its metrics registered, and
// returns its ParDos by DoFn type name.
func translatedParDos(t *testing.T, id string, g *dsl.Graph, b Bindings) map[string][]pardo {
	t.Helper()
	p, err := Translate(id, g, b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(observe.Register(id, observe.New(id, "local", g)))
	edges, _, err := p.Build()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]pardo{}
	for _, e := range edges {
		if e.DoFn == nil || len(e.Input) == 0 {
			continue
		}
		pd := pardo{fn: e.DoFn.Recv, in: e.Input[0].From.Coder}
		for _, o := range e.Output {
			pd.outs = append(pd.outs, o.To.Coder)
		}
		name := reflect.TypeOf(e.DoFn.Recv).Elem().Name()
		m[name] = append(m[name], pd)
	}
	return m
}

// theParDo is the one ParDo of DoFn type name in pds.
func theParDo(t *testing.T, pds map[string][]pardo, name string) pardo {
	t.Helper()
	if len(pds[name]) != 1 {
		t.Fatalf("%d ParDos of %s, want 1", len(pds[name]), name)
	}
	return pds[name][0]
}

// viaProto returns coders as a runner gets them: marshalled into the
// pipeline's proto and unmarshalled.
func viaProto(t *testing.T, cs ...*coder.Coder) []*coder.Coder {
	t.Helper()
	ids, m, err := graphx.MarshalCoders(cs)
	if err != nil {
		t.Fatal(err)
	}
	u := graphx.NewCoderUnmarshaller(m)
	out := make([]*coder.Coder, len(ids))
	for i, id := range ids {
		if out[i], err = u.Coder(id); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// encodedInput is one input element: its value and event time.
type encodedInput struct {
	ts beam.EventTime
	v  any // kafka.Record or element
}

func recordInputs(recs []kafka.Record) []encodedInput {
	in := make([]encodedInput, len(recs))
	for i, r := range recs {
		in[i] = encodedInput{mtime.FromTime(r.Timestamp), r}
	}
	return in
}

func encode(t *testing.T, c *coder.Coder, v *exec.FullValue) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := exec.MakeElementEncoder(c).Encode(v, &b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sdkPath runs fn's ProcessElement on in with emitters that do what the
// SDK's do when the DoFn's outputs go to DataSinks: encode each output
// with its coder and panic with the coder's error (register's emitters
// panic when their downstream node fails). A panic that leaves
// ProcessElement fails the bundle, as the SDK's executor makes it.
func sdkPath(t *testing.T, fn any, in []encodedInput, outs []*coder.Coder) (want []encodedOutput, bundleErr error) {
	t.Helper()
	kvEnc, badEnc := exec.MakeElementEncoder(outs[0]), exec.MakeElementEncoder(outs[1])
	var inTS beam.EventTime
	kv := func(ts beam.EventTime, k string, e element) {
		var b bytes.Buffer
		if err := kvEnc.Encode(&exec.FullValue{Elm: k, Elm2: e, Timestamp: ts}, &b); err != nil {
			panic(fmt.Errorf("encoding element with coder %v: %w", outs[0], err))
		}
		want = append(want, encodedOutput{0, ts, b.Bytes()})
	}
	rec := func(ts beam.EventTime, r kafka.Record) {
		var b bytes.Buffer
		if err := kvEnc.Encode(&exec.FullValue{Elm: r, Timestamp: ts}, &b); err != nil {
			panic(fmt.Errorf("encoding element with coder %v: %w", outs[0], err))
		}
		want = append(want, encodedOutput{0, ts, b.Bytes()})
	}
	bad := func(v invalid) {
		var b bytes.Buffer
		if err := badEnc.Encode(&exec.FullValue{Elm: v, Timestamp: inTS}, &b); err != nil {
			panic(fmt.Errorf("encoding element with coder %v: %w", outs[1], err))
		}
		want = append(want, encodedOutput{1, inTS, b.Bytes()})
	}
	defer func() {
		if r := recover(); r != nil {
			bundleErr = fmt.Errorf("panic: %v", r)
		}
	}()
	for _, x := range in {
		inTS = x.ts
		switch fn := fn.(type) {
		case *recordKeyFn:
			fn.ProcessElement(x.ts, x.v.(kafka.Record), kv, bad)
		case *keyStepFn:
			fn.ProcessElement(x.ts, x.v.(element), kv, bad)
		case *recordSinkFn:
			fn.ProcessElement(x.ts, x.v.(kafka.Record), rec, bad)
		case *sinkStepFn:
			fn.ProcessElement(x.ts, x.v.(element), rec, bad)
		default:
			t.Fatalf("a %T", fn)
		}
	}
	switch fn := fn.(type) {
	case *recordKeyFn:
		fn.FinishBundle(context.Background(), nil, nil)
	case *keyStepFn:
		fn.FinishBundle(context.Background(), nil, nil)
	case *recordSinkFn:
		fn.FinishBundle(context.Background(), nil, nil)
	case *sinkStepFn:
		fn.FinishBundle(context.Background(), nil, nil)
	}
	return want, nil
}

// encodedPath encodes in with the coder c and runs fn's ProcessEncoded
// over the concatenated bytes, checking the length each element took.
func encodedPath(t *testing.T, fn encodedDoFn, in []encodedInput, c *coder.Coder) (got []encodedOutput, bundleErr error) {
	t.Helper()
	var data []byte
	var lens []int
	for _, x := range in {
		b := encode(t, c, &exec.FullValue{Elm: x.v, Timestamp: x.ts})
		data = append(data, b...)
		lens = append(lens, len(b))
	}
	emit := func(out int, ts beam.EventTime, v []byte) {
		got = append(got, encodedOutput{out, ts, bytes.Clone(v)})
	}
	off := 0
	for i, x := range in {
		n, err := fn.ProcessEncoded(x.ts, data[off:], emit)
		if err != nil {
			return got, err
		}
		if n != lens[i] {
			t.Fatalf("element %d took %d bytes, want %d", i, n, lens[i])
		}
		off += n
	}
	if off != len(data) {
		t.Fatalf("%d of %d bytes read", off, len(data))
	}
	return got, fn.FinishEncodedBundle()
}

// compareEncoded checks ProcessEncoded's outputs against the SDK's path:
// the same outputs, at the same times, the same bytes. A message that a
// step rejected because the element coder failed on its output is
// rejected by the same step, with the same source record, for the same
// cause; the error's text differs (the SDK's names the element and its
// windows, which ProcessEncoded does not see).
//
// It returns how many rejects differ so.
func compareEncoded(t *testing.T, what string, got, want []encodedOutput, badCoder *coder.Coder) (coderRejects int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d outputs, want %d:\n got %v\nwant %v", what, len(got), len(want), got, want)
		return 0
	}
	dec := exec.MakeElementDecoder(badCoder)
	for i := range got {
		g, w := got[i], want[i]
		if g.Out != w.Out || g.TS != w.TS {
			t.Errorf("%s: output %d is %d at %v, want %d at %v", what, i, g.Out, g.TS, w.Out, w.TS)
			continue
		}
		if bytes.Equal(g.Value, w.Value) {
			continue
		}
		if g.Out == 1 {
			gv, gerr := dec.Decode(bytes.NewReader(g.Value))
			wv, werr := dec.Decode(bytes.NewReader(w.Value))
			if gerr == nil && werr == nil {
				gi, wi := gv.Elm.(invalid), wv.Elm.(invalid)
				if gi.Step == wi.Step && reflect.DeepEqual(gi.Origin, wi.Origin) &&
					strings.Contains(gi.Error, errFragile.Error()) && strings.Contains(wi.Error, errFragile.Error()) {
					coderRejects++
					continue
				}
				t.Errorf("%s: output %d: rejected %+v, want %+v", what, i, gi, wi)
				continue
			}
		}
		t.Errorf("%s: output %d (%d):\n got %q\nwant %q", what, i, g.Out, g.Value, w.Value)
	}
	return coderRejects
}

func stepStats(id string) map[string]observe.StepStats {
	stats := observe.Lookup(id).Stats().Steps
	for name, s := range stats {
		stats[name] = s.Counts()
	}
	return stats
}

// checkEncoded runs the DoFn of type name of two translations of g (ref,
// got) on in, ref's with ProcessElement, got's with ProcessEncoded, and
// compares their outputs and metrics. It returns got's outputs, and how
// many of them are rejects for an output the element coder failed on.
func checkEncoded(t *testing.T, what, name string, g func() *dsl.Graph, b Bindings, in []encodedInput) ([]encodedOutput, int) {
	t.Helper()
	refID, gotID := "enc-ref-"+what, "enc-got-"+what
	ref := theParDo(t, translatedParDos(t, refID, g(), b), name)
	got := theParDo(t, translatedParDos(t, gotID, g(), b), name)
	fn := got.fn.(encodedDoFn)
	if !fn.ProcessEncodedFor(got.in, got.outs) {
		t.Fatalf("%s: ProcessEncodedFor(%v, %v) is false", what, got.in, got.outs)
	}
	// The runner's coders, from the pipeline's proto.
	proto := viaProto(t, append([]*coder.Coder{got.in}, got.outs...)...)
	if !fn.ProcessEncodedFor(proto[0], proto[1:]) {
		t.Fatalf("%s: ProcessEncodedFor is false for the unmarshalled coders %v", what, proto)
	}
	mustSetup(t, ref.fn, got.fn)
	want, wantErr := sdkPath(t, ref.fn, in, ref.outs)
	outs, gotErr := encodedPath(t, fn, in, proto[0])
	if (gotErr != nil) != (wantErr != nil) {
		t.Fatalf("%s: ProcessEncoded's error %v; the SDK's path's %v", what, gotErr, wantErr)
	}
	coderRejects := compareEncoded(t, what, outs, want, ref.outs[1])
	checkValues(t, what, name, g, b, in, want, ref.outs[1])
	if g, w := stepStats(gotID), stepStats(refID); !reflect.DeepEqual(g, w) {
		t.Errorf("%s metrics:\n got %+v\nwant %+v", what, g, w)
	}
	return outs, coderRejects
}

func countOutputs(outs []encodedOutput) (keyed, rejected int) {
	for _, o := range outs {
		if o.Out == 0 {
			keyed++
		} else {
			rejected++
		}
	}
	return keyed, rejected
}

// encodedRecords are records with what the coders and the chain must
// carry: headers (repeated, nil and empty values), nil and empty keys
// and values, a value long enough for a 2-byte length prefix, distinct
// partitions, offsets and timestamps.
func encodedRecords(values ...[]byte) []kafka.Record {
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	var recs []kafka.Record
	for i, v := range values {
		r := kafka.Record{
			Topic: "events", Partition: int32(i % 3), Offset: int64(1000 + i), Value: v,
			Timestamp: t0.Add(time.Duration(i) * 2345 * time.Millisecond),
		}
		switch i % 4 {
		case 0:
			r.Key = []byte(fmt.Sprint("k", i))
		case 1:
			r.Key, r.Headers = []byte{}, []kafka.Header{{Key: "h", Value: []byte("v")}, {Key: "h"}, {Key: "e", Value: []byte{}}}
		case 2: // nil key
		case 3:
			r.Key, r.Headers = []byte("é"), []kafka.Header{{Key: "trace", Value: []byte("abc")}}
		}
		recs = append(recs, r)
	}
	return recs
}

func jsonValue(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestRecordKeyFnEncoded checks that recordKeyFn's ProcessEncoded gives,
// for records encoded by the SDK's coder, the bytes the SDK's coders
// write for what ProcessElement emits, at the same times, with the same
// metrics: in the windowed benchmark's pipeline (with and without the
// source records kept for late messages), a chain that moves timestamps,
// fans out and rejects in steps and in the key function, a Reduce with an
// event-time function, a Reduce right after the source, and outputs the
// element coder fails on.
func TestRecordKeyFnEncoded(t *testing.T) {
	evs := encodedRecords(
		jsonValue(ev{Type: "click", N: 1}),
		[]byte("not json"),
		jsonValue(ev{Type: "view", N: 2}),
		nil,
		[]byte{},
		jsonValue(ev{Type: strings.Repeat("long", 100), N: 3}),
		jsonValue(ev{Type: `q"<&>\é`, N: 4}),
		jsonValue(ev{Type: "click", N: 5}),
	)
	for _, keep := range []bool{false, true} {
		b := bindings("out")
		if keep {
			b.Source.DLQ = &DLQBinding{Client: b.Source.Client, Topic: "dlq"}
			b.LateToDLQ = []string{"count"}
		}
		what := fmt.Sprint("windowed-", keep)
		outs, _ := checkEncoded(t, what, "recordKeyFn", func() *dsl.Graph { return windowedPipeline().MustBuild() }, b, recordInputs(evs))
		if k, r := countOutputs(outs); k != 5 || r != 3 {
			t.Errorf("%s: %d keyed, %d rejected, want 5 and 3", what, k, r)
		}
		if lastValues != 5 {
			t.Errorf("%s: %d keyed messages went as values, want all 5", what, lastValues)
		}
	}

	outs, _ := checkEncoded(t, "fuse", "recordKeyFn", func() *dsl.Graph { return fusePipeline().MustBuild() }, bindings(), recordInputs(fuseRecords()))
	if k, r := countOutputs(outs); k != 6 || r != 5 {
		t.Errorf("fuse: %d keyed, %d rejected, want 6 and 5", k, r)
	}

	t1 := time.Date(2024, 3, 1, 11, 0, 0, 0, time.UTC)
	sales := encodedRecords(
		jsonValue(sale{Shop: "s1", Amount: 1, At: t1}),
		jsonValue(sale{Shop: "s2", Amount: 2, At: t1.Add(1500 * time.Microsecond)}), // truncated to the millisecond
		jsonValue(sale{Shop: "s1", Amount: 3}),                                      // no event time: rejected
		[]byte("{"),
		jsonValue(sale{Shop: "s3", Amount: 4, At: t1.Add(-time.Hour)}),
	)
	eventTime := func() *dsl.Graph {
		return dsl.StreamingSource("in", "sales").
			Apply("parse", dsl.Parser[sale]()).
			Apply("max", dsl.Reduce(dsl.TumblingWindow(time.Minute), func(s sale) string { return s.Shop },
				dsl.Max(func(s sale) float64 { return s.Amount }),
				dsl.WithEventTime(func(s sale) time.Time {
					if s.At.IsZero() {
						panic("no event time")
					}
					return s.At
				}))).
			Sink("null", dsl.DevNullSink[dsl.Windowed[string, float64]]()).MustBuild()
	}
	outs, _ = checkEncoded(t, "event-time", "recordKeyFn", eventTime, bindings(), recordInputs(sales))
	if k, r := countOutputs(outs); k != 3 || r != 2 {
		t.Errorf("event-time: %d keyed, %d rejected, want 3 and 2", k, r)
	}
	for _, o := range outs[:2] {
		if o.Out != 0 || (o.TS != mtime.FromTime(t1) && o.TS != mtime.FromTime(t1.Add(time.Millisecond))) {
			t.Errorf("event-time: output %+v, want a keyed message at its event time", o)
		}
	}

	bare := func() *dsl.Graph {
		return dsl.StreamingSource("in", "events").
			Apply("count", dsl.Reduce(dsl.TumblingWindow(time.Second), func(b []byte) string {
				if len(b) == 0 {
					panic("empty")
				}
				return string(b)
			}, dsl.Count[[]byte]())).
			Sink("null", dsl.DevNullSink[dsl.Windowed[string, int]]()).MustBuild()
	}
	outs, _ = checkEncoded(t, "bare", "recordKeyFn", bare, bindings(), recordInputs(evs))
	if k, r := countOutputs(outs); k != 6 || r != 2 {
		t.Errorf("bare: %d keyed, %d rejected, want 6 and 2", k, r)
	}

	// The element coder fails on the first or the second copy "twice"
	// makes: on the SDK's path the emitter's panic rejects the message in
	// "twice", after the first copy when the second fails.
	fragiles := encodedRecords(
		jsonValue(fragile{Shop: "a"}),
		jsonValue(fragile{Shop: "b", FailOn: 1}),
		jsonValue(fragile{Shop: "c", FailOn: 2}),
		jsonValue(fragile{Shop: "panic"}),
		[]byte("[]"),
	)
	fragileGraph := func() *dsl.Graph {
		return dsl.StreamingSource("in", "events").
			Apply("parse", dsl.Parser[fragile]()).
			Apply("twice", twiceFragile()).
			Apply("count", countFragile()).
			Sink("null", dsl.DevNullSink[dsl.Windowed[string, int]]()).MustBuild()
	}
	b := bindings()
	b.Source.DLQ = &DLQBinding{Client: b.Source.Client, Topic: "dlq"}
	b.LateToDLQ = []string{"count"}
	outs, coderRejects := checkEncoded(t, "fragile", "recordKeyFn", fragileGraph, b, recordInputs(fragiles))
	if k, r := countOutputs(outs); k != 3 || r != 5 || coderRejects != 2 {
		t.Errorf("fragile: %d keyed, %d rejected (%d by the coder), want 3, 5 (2)", k, r, coderRejects)
	}
}

// TestKeyStepFnEncoded checks keyStepFn's ProcessEncoded as
// TestRecordKeyFnEncoded checks recordKeyFn's: a Router's branch that
// fans out and keys for a Reduce, on the messages the chain before the
// router emits (some for the other branch), with and without their source
// records kept, and outputs the element coder fails on.
func TestKeyStepFnEncoded(t *testing.T) {
	recs := encodedRecords(
		jsonValue(fragile{Shop: "a"}),
		jsonValue(fragile{Shop: "b", FailOn: 1}),
		jsonValue(fragile{Shop: "c", FailOn: 2}),
		jsonValue(fragile{Shop: "panic"}),
		jsonValue(fragile{Shop: "other"}),
		[]byte("not json"),
		jsonValue(fragile{Shop: strings.Repeat("x", 200)}),
	)
	routed := func() *dsl.Graph {
		return dsl.StreamingSource("in", "events").
			Apply("parse", dsl.Parser[fragile]()).
			Route("route", func(f fragile) (string, error) {
				if f.Shop == "other" {
					return "b", nil
				}
				return "a", nil
			},
				dsl.Branch[fragile]("a").
					Apply("twice", twiceFragile()).
					Apply("count", countFragile()).
					Sink("null", dsl.DevNullSink[dsl.Windowed[string, int]]()),
				dsl.Branch[fragile]("b").Sink("null-b", dsl.DevNullSink[fragile]())).
			MustBuild()
	}
	for _, keep := range []bool{false, true} {
		b := bindings()
		if keep {
			b.Source.DLQ = &DLQBinding{Client: b.Source.Client, Topic: "dlq"}
			b.LateToDLQ = []string{"count"}
		}
		what := fmt.Sprint("routed-", keep)
		// The messages keyStepFn reads: what the chain before the router
		// emits, in a third translation.
		in := routerMessages(t, "enc-src-"+what, routed(), b, recs)
		if len(in) != len(recs)-1 {
			t.Fatalf("%s: %d messages from the router, want %d", what, len(in), len(recs)-1)
		}
		// "a": two keyed; "b": rejected by "twice" (the coder fails on the
		// first copy); "c": one keyed, then rejected by "twice"; "panic":
		// both copies rejected by the key function; "other": routed to
		// the other branch; the long one: two keyed.
		outs, coderRejects := checkEncoded(t, what, "keyStepFn", routed, b, in)
		if k, r := countOutputs(outs); k != 5 || r != 4 || coderRejects != 2 {
			t.Errorf("%s: %d keyed, %d rejected (%d by the coder), want 5, 4 (2)", what, k, r, coderRejects)
		}
	}
}

// routerMessages translates g as id and returns the messages its chain
// from the source's records to a router emits for recs: what the DoFns of
// the router's branches read.
func routerMessages(t *testing.T, id string, g *dsl.Graph, b Bindings, recs []kafka.Record) []encodedInput {
	t.Helper()
	src := theParDo(t, translatedParDos(t, id, g, b), "recordStepFn").fn.(*recordStepFn)
	mustSetup(t, src)
	var in []encodedInput
	for _, r := range recs {
		src.ProcessElement(mtime.FromTime(r.Timestamp), r, func(ts beam.EventTime, e element) {
			in = append(in, encodedInput{ts, e})
		}, func(invalid) {})
	}
	return in
}

// routedFragileGraph puts a Reduce after a Router's branch, so that a
// keyStepFn keys the branch's messages.
func routedFragileGraph() *dsl.Graph {
	return dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[fragile]()).
		Route("route", func(f fragile) (string, error) { return "a", nil },
			dsl.Branch[fragile]("a").
				Apply("count", countFragile()).
				Sink("null", dsl.DevNullSink[dsl.Windowed[string, int]]())).
		MustBuild()
}

// TestProcessEncodedFor checks that the DoFns take the fast path only for
// the coders they write: the translation's, and not a wrong input coder
// or a wrong output coder.
func TestProcessEncodedFor(t *testing.T) {
	b := bindings()
	g := routedFragileGraph
	pds := translatedParDos(t, "enc-for", g(), b)
	ks := theParDo(t, pds, "keyStepFn")
	rk := theParDo(t, translatedParDos(t, "enc-for-source", fragileSourceGraph(), b), "recordKeyFn")

	recordC := coder.CoderFrom(coder.LookupCustomCoder(reflect.TypeFor[kafka.Record]()))
	elementC := coder.CoderFrom(coder.LookupCustomCoder(reflect.TypeFor[element]()))
	invalidC := coder.CoderFrom(coder.LookupCustomCoder(reflect.TypeFor[invalid]()))
	kv := coder.NewKV([]*coder.Coder{coder.NewString(), elementC})
	// A coder of element that is not the registered one, by the same name.
	other, err := coder.NewCustomCoder(elementC.Custom.Name, reflect.TypeFor[element](),
		func(element) ([]byte, error) { return nil, nil }, func([]byte) (element, error) { return element{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	otherC := coder.CoderFrom(other)

	for _, tc := range []struct {
		name string
		fn   encodedDoFn
		in   *coder.Coder
	}{
		{"recordKeyFn", rk.fn.(encodedDoFn), recordC},
		{"keyStepFn", ks.fn.(encodedDoFn), elementC},
	} {
		if !tc.fn.ProcessEncodedFor(tc.in, []*coder.Coder{kv, invalidC}) {
			t.Errorf("%s: false for its coders", tc.name)
		}
		for _, in := range []*coder.Coder{nil, recordC, elementC, invalidC, otherC, coder.NewBytes(), coder.NewString(), kv,
			coder.NewKV([]*coder.Coder{coder.NewString(), tc.in})} {
			if in != tc.in && tc.fn.ProcessEncodedFor(in, []*coder.Coder{kv, invalidC}) {
				t.Errorf("%s: true for input coder %v", tc.name, in)
			}
		}
		for _, outs := range [][]*coder.Coder{
			nil,
			{kv},
			{kv, invalidC, invalidC},
			{invalidC, kv},
			{kv, elementC},
			{kv, nil},
			{nil, invalidC},
			{elementC, invalidC},
			{coder.NewKV([]*coder.Coder{coder.NewBytes(), elementC}), invalidC},
			{coder.NewKV([]*coder.Coder{coder.NewString(), invalidC}), invalidC},
			{coder.NewKV([]*coder.Coder{coder.NewString(), otherC}), invalidC},
			{coder.NewKV([]*coder.Coder{coder.NewString(), coder.NewBytes()}), invalidC},
			{coder.NewKV([]*coder.Coder{elementC, coder.NewString()}), invalidC},
			{coder.NewKV([]*coder.Coder{coder.NewString(), elementC}), coder.NewBytes()},
		} {
			if tc.fn.ProcessEncodedFor(tc.in, outs) {
				t.Errorf("%s: true for output coders %v", tc.name, outs)
			}
		}
	}
}

func fragileSourceGraph() *dsl.Graph {
	return dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[fragile]()).
		Apply("count", countFragile()).
		Sink("null", dsl.DevNullSink[dsl.Windowed[string, int]]()).MustBuild()
}

// TestProcessEncodedBadInput checks that truncated or corrupt input is an
// error, without a panic or an output, and that the DoFn goes on after
// it.
func TestProcessEncodedBadInput(t *testing.T) {
	rk := theParDo(t, translatedParDos(t, "enc-bad-record", fragileSourceGraph(), bindings()), "recordKeyFn")
	rec := kafka.Record{Topic: "events", Offset: 7, Key: []byte("k"), Value: jsonValue(fragile{Shop: "a"}),
		Headers: []kafka.Header{{Key: "h", Value: []byte("v")}}, Timestamp: time.UnixMilli(1_700_000_000_000)}
	g := routedFragileGraph
	ks := theParDo(t, translatedParDos(t, "enc-bad-element", g(), bindings()), "keyStepFn")
	o := origin{Topic: "events", Offset: 7, Key: []byte("k"), Value: []byte("v"), Headers: []dsl.Header{{Key: "h", Value: []byte("v")}}}
	msg := element{Payload: fragile{Shop: "a"}, Key: []byte("k"), Headers: o.Headers, Branch: "a", Origin: &o}

	for _, tc := range []struct {
		name string
		pd   pardo
		v    any
		// corrupt changes the encoded value (after the length prefix) into
		// one its decoder refuses.
		corrupt func([]byte) []byte
	}{
		{"recordKeyFn", rk, rec, func(b []byte) []byte { b[0] = 9; return b }}, // an unknown version
		{"keyStepFn", ks, msg, func(b []byte) []byte { b[0] = 99; return b }},  // an unknown payload encoding
	} {
		fn := tc.pd.fn.(encodedDoFn)
		if !fn.ProcessEncodedFor(tc.pd.in, tc.pd.outs) {
			t.Fatalf("%s: ProcessEncodedFor is false", tc.name)
		}
		mustSetup(t, tc.pd.fn)
		ts := mtime.FromTime(rec.Timestamp)
		full := encode(t, tc.pd.in, &exec.FullValue{Elm: tc.v, Timestamp: ts})
		size, k := binary.Uvarint(full)
		value := full[k:]
		if int(size) != len(value) {
			t.Fatalf("%s: length prefix %d for %d bytes", tc.name, size, len(value))
		}
		emitted := 0
		emit := func(int, beam.EventTime, []byte) { emitted++ }
		try := func(what string, data []byte) {
			t.Helper()
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s, %s: panic %v", tc.name, what, r)
				}
			}()
			if n, err := fn.ProcessEncoded(ts, data, emit); err == nil {
				t.Errorf("%s, %s: no error (%d bytes read)", tc.name, what, n)
			}
		}
		// Cut anywhere: the length prefix runs past the data.
		for i := range len(full) {
			try(fmt.Sprintf("%d of %d bytes", i, len(full)), bytes.Clone(full[:i]))
		}
		// The value cut anywhere, with a length prefix that says so: the
		// decoder runs out.
		for i := range len(value) {
			data := append(binary.AppendUvarint(nil, uint64(i)), value[:i]...)
			try(fmt.Sprintf("value cut to %d of %d bytes, prefixed", i, len(value)), data)
		}
		try("corrupt value", append(binary.AppendUvarint(nil, uint64(len(value))), tc.corrupt(bytes.Clone(value))...))
		// An overlong length prefix.
		try("overlong length prefix", append(binary.AppendUvarint(nil, 1<<62), value...))
		if emitted != 0 {
			t.Errorf("%s: %d outputs for bad input", tc.name, emitted)
		}
		// The DoFn goes on: the whole element, followed by another.
		n, err := fn.ProcessEncoded(ts, append(bytes.Clone(full), full...), emit)
		if err != nil || n != len(full) || emitted != 1 {
			t.Errorf("%s: after bad input, %d bytes, %d outputs, %v; want %d, 1, nil", tc.name, n, emitted, err, len(full))
		}
		if err := fn.FinishEncodedBundle(); err != nil {
			t.Errorf("%s: FinishEncodedBundle: %v", tc.name, err)
		}
	}
}

// TestAppendElement checks that appendElement writes what encodeElement
// does, after what the buffer holds, for elements with every field set
// and every payload encoding.
func TestAppendElement(t *testing.T) {
	Register("enc-append", fragileSourceGraph())
	registerPayloadType(reflect.TypeFor[sale]())
	o := &origin{Topic: "t", Partition: 2, Offset: -1, Key: []byte("k"), Value: []byte{}, Headers: []dsl.Header{{Key: "h"}, {Key: "i", Value: []byte("v")}}}
	for _, e := range []element{
		{},
		{Payload: []byte{}},
		{Payload: []byte("bytes"), Key: []byte("k"), Headers: []dsl.Header{{Key: "a", Value: []byte("b")}}, Branch: "br", Origin: o},
		{Payload: "text", Origin: &origin{}},
		{Payload: sale{Shop: "s", Amount: 1.5, At: time.UnixMilli(5)}, Key: []byte{}, Origin: o},
		{Payload: fragile{Shop: "f"}, Branch: "x"},
	} {
		want, err := encodeElement(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendElement([]byte("prefix"), e)
		if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("%+v: appended %q, %v; want prefix%q", e, got, err, want)
		}
	}
	_, want := encodeElement(element{Payload: fragile{Copy: 1, FailOn: 1}})
	if _, err := appendElement(nil, element{Payload: fragile{Copy: 1, FailOn: 1}}); err == nil || want == nil || err.Error() != want.Error() {
		t.Errorf("unencodable payload: %v, want %v", err, want)
	}
}

// TestProcessEncodedCoderErrorOutsideSteps checks that an output the
// element coder fails on outside any step's call (a chain with no steps,
// which the translation makes only for records, whose payloads never
// fail) fails the bundle, as on the SDK's path: ProcessEncoded returns
// the coder's error.
func TestProcessEncodedCoderErrorOutsideSteps(t *testing.T) {
	const id = "enc-outside"
	Register(id, fragileSourceGraph())
	t.Cleanup(observe.Register(id, observe.New(id, "local", fragileSourceGraph())))
	ref := &keyStepFn{chain{Pipeline: id, Reduce: "count"}}
	fn := &keyStepFn{chain{Pipeline: id, Reduce: "count"}}
	mustSetup(t, ref, fn)
	elementC := coder.CoderFrom(coder.LookupCustomCoder(reflect.TypeFor[element]()))
	invalidC := coder.CoderFrom(coder.LookupCustomCoder(reflect.TypeFor[invalid]()))
	outs := []*coder.Coder{coder.NewKV([]*coder.Coder{coder.NewString(), elementC}), invalidC}
	if !fn.ProcessEncodedFor(elementC, outs) {
		t.Fatal("ProcessEncodedFor is false")
	}

	// A message whose payload decodes but does not encode: the element
	// coder cannot write it, so its bytes are written by hand.
	bad := fragile{Shop: "a", FailOn: 1, Copy: 1}
	v := wire.AppendBytes([]byte{payloadJSON}, infoOf(reflect.TypeFor[fragile]()).name)
	v = wire.AppendBytes(v, `{"shop":"a","fail_on":1,"copy":1}`)
	v = wire.AppendBytes(v, "")
	v = appendHeaders(v, nil)
	v = wire.AppendBytes(v, "")
	v = appendOrigin(v, origin{})
	if e, err := decodeElement(v); err != nil || e.Payload != bad {
		t.Fatalf("decoded %+v, %v", e, err)
	}
	ts := mtime.FromTime(time.UnixMilli(1_700_000_000_000))
	_, wantErr := sdkPath(t, ref, []encodedInput{{ts, element{Payload: bad}}}, outs)
	if wantErr == nil || !strings.Contains(wantErr.Error(), errFragile.Error()) {
		t.Fatalf("the SDK's path: %v, want the coder's error", wantErr)
	}
	emitted := 0
	n, err := fn.ProcessEncoded(ts, append(binary.AppendUvarint(nil, uint64(len(v))), v...), func(int, beam.EventTime, []byte) { emitted++ })
	if !errors.Is(err, errFragile) || emitted != 0 {
		t.Errorf("ProcessEncoded: %d bytes, %d outputs, error %v; want the coder's error", n, emitted, err)
	}
}
