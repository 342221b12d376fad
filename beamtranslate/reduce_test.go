package beamtranslate

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"

	"github.com/streams-dev/streams/dsl"
)

type sale struct {
	Shop   string    `json:"shop"`
	Amount float64   `json:"amount"`
	At     time.Time `json:"at"`
}

type shopKey struct {
	Shop   string
	Region int
}

// reducePipeline has one Reduce of each window kind, with key and
// accumulator types that need JSON.
func reducePipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "sales").
		Apply("parse", dsl.Parser[sale]()).
		Apply("max", dsl.Reduce(dsl.SlidingWindow(time.Minute, 10*time.Second),
			func(s sale) shopKey {
				if s.Shop == "" {
					panic("no shop")
				}
				return shopKey{Shop: s.Shop, Region: 1}
			},
			dsl.Max(func(s sale) float64 { return s.Amount }),
			dsl.WithEventTime(func(s sale) time.Time { return s.At }))).
		Apply("values", dsl.Map(func(w dsl.Windowed[shopKey, float64]) (float64, error) { return w.Value, nil })).
		Apply("collect", dsl.Reduce(dsl.SessionWindow(time.Second), func(float64) string { return "all" }, dsl.Collect[float64]())).
		Sink("out", dsl.DevNullSink[dsl.Windowed[string, []float64]]())
}

func TestAccumCoderRoundTrip(t *testing.T) {
	Register("accum-test", reducePipeline().MustBuild())
	for _, a := range []accum{
		{V: dsl.Extremum[float64]{Seen: true, Value: 2.5}},
		{V: []float64{1, 0.1, -3}},
		{V: []float64(nil)},
		{V: nil},
		{V: "text"},
		{V: []byte("raw")},
	} {
		b, err := encodeAccum(a)
		if err != nil {
			t.Fatalf("encode %#v: %v", a, err)
		}
		got, err := decodeAccum(b)
		if err != nil {
			t.Fatalf("decode %#v: %v", a, err)
		}
		if !reflect.DeepEqual(got, a) {
			t.Errorf("round trip: got %#v, want %#v", got, a)
		}
		for i := range b {
			_, _ = decodeAccum(b[:i]) // never panics
		}
	}
	// Register records the accumulator types of the pipeline's Reduce
	// steps, and only those.
	type unregistered struct{ X int }
	b, err := encodeAccum(accum{V: unregistered{1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeAccum(b); err == nil || !strings.Contains(err.Error(), "not a type of any registered pipeline") {
		t.Errorf("unregistered accumulator type: %v", err)
	}
}

func TestReduceFns(t *testing.T) {
	Register("reduce-fns", reducePipeline().MustBuild())
	key := &reduceKeyFn{Pipeline: "reduce-fns", Step: "max"}
	if err := key.Setup(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	type keyed struct {
		ts  beam.EventTime
		key string
		e   element
	}
	var out []keyed
	var bad []invalid
	emit := func(ts beam.EventTime, k string, e element) { out = append(out, keyed{ts, k, e}) }
	o := origin{Topic: "sales", Partition: 1, Offset: 7}
	key.ProcessElement(mtime.FromTime(t0), element{Payload: sale{Shop: "s1", Amount: 2, At: t0.Add(time.Hour)}, Key: []byte("k"), Origin: &o}, emit, func(v invalid) { bad = append(bad, v) })
	key.ProcessElement(mtime.FromTime(t0), element{Payload: sale{}, Origin: &o}, emit, func(v invalid) { bad = append(bad, v) })
	if len(out) != 1 || out[0].key != `{"Shop":"s1","Region":1}` || out[0].ts != mtime.FromTime(t0.Add(time.Hour)) ||
		out[0].e.Key != nil || out[0].e.Origin != nil {
		t.Errorf("keyed: %+v", out)
	}
	if len(bad) != 1 || bad[0].Step != "max" || !strings.Contains(bad[0].Error, "panic: no shop") || bad[0].Origin.Offset != 7 {
		t.Errorf("rejected: %+v", bad)
	}

	comb := &reduceCombineFn{Pipeline: "reduce-fns", Step: "max"}
	a, err := comb.CreateAccumulator()
	if err != nil {
		t.Fatal(err)
	}
	for _, amount := range []float64{3, 9, 1} {
		if a, err = comb.AddInput(a, element{Payload: sale{Amount: amount}}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := comb.CreateAccumulator()
	b, _ = comb.AddInput(b, element{Payload: sale{Amount: 4}})
	if a, err = comb.MergeAccumulators(b, a); err != nil || a.V != (dsl.Extremum[float64]{Seen: true, Value: 9}) {
		t.Fatalf("merged %#v, %v", a, err)
	}
	if _, err := comb.AddInput(a, element{Payload: "not a sale"}); err == nil || !strings.Contains(err.Error(), "step max") {
		t.Errorf("bad input: %v", err)
	}

	// AddEncodedInput adds an element from the element coder's bytes as
	// AddInput adds it decoded.
	elemCoder := coder.CoderFrom(coder.LookupCustomCoder(reflect.TypeFor[element]()))
	if !comb.AddEncodedInputFor(elemCoder) || comb.AddEncodedInputFor(coder.NewString()) {
		t.Error("AddEncodedInputFor: want the element coder alone")
	}
	encode := func(e element) []byte {
		var buf bytes.Buffer
		if err := exec.MakeElementEncoder(elemCoder).Encode(&exec.FullValue{Elm: e}, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	ref, _ := comb.CreateAccumulator()
	var enc any
	enc, _ = comb.CreateAccumulator()
	for _, e := range []element{
		{Payload: sale{Amount: 3}, Key: []byte("k"), Headers: []dsl.Header{{Key: "h"}}, Origin: &o},
		{Payload: sale{Amount: 11, Shop: "s", At: t0}},
		{Payload: sale{Amount: -2}, Branch: "b"},
	} {
		if ref, err = comb.AddInput(ref, e); err != nil {
			t.Fatal(err)
		}
		if enc, err = comb.AddEncodedInput(enc, encode(e)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(enc, ref) {
			t.Fatalf("AddEncodedInput: %#v, AddInput: %#v", enc, ref)
		}
	}
	if _, err := comb.AddEncodedInput(enc, encode(element{Payload: "not a sale"})); err == nil || !strings.Contains(err.Error(), "step max") {
		t.Errorf("bad encoded input: %v", err)
	}
	full := encode(element{Payload: sale{Amount: 1}})
	for i := range full {
		if _, err := comb.AddEncodedInput(enc, full[:i]); err == nil {
			t.Errorf("input truncated to %d of %d bytes: no error", i, len(full))
		}
	}

	outFn := &reduceOutputFn{Pipeline: "reduce-fns", Step: "max"}
	if err := outFn.Setup(); err != nil {
		t.Fatal(err)
	}
	w := window.IntervalWindow{Start: mtime.FromTime(t0), End: mtime.FromTime(t0.Add(time.Minute))}
	var res []element
	var resTS []beam.EventTime
	err = outFn.ProcessElement(w, `{"Shop":"s1","Region":1}`, a, func(ts beam.EventTime, e element) {
		res, resTS = append(res, e), append(resTS, ts)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := dsl.Windowed[shopKey, float64]{Key: shopKey{"s1", 1}, Start: t0, End: t0.Add(time.Minute), Value: 9}
	if len(res) != 1 || !reflect.DeepEqual(res[0].Payload, want) || res[0].Key != nil || resTS[0] != w.MaxTimestamp() {
		t.Errorf("output %+v at %v", res, resTS)
	}
	if err := outFn.ProcessElement(window.GlobalWindow{}, `{}`, a, nil); err == nil {
		t.Errorf("global window accepted")
	}

	if err := (&reduceKeyFn{Pipeline: "reduce-fns", Step: "parse"}).Setup(); err == nil || !strings.Contains(err.Error(), "not a reduce") {
		t.Errorf("setup on a parser: %v", err)
	}
	if err := (&batchFn{Pipeline: "reduce-fns", Step: "max"}).Setup(); err == nil || !strings.Contains(err.Error(), "not a batch") {
		t.Errorf("batch setup on a reduce: %v", err)
	}
}

func TestBatchBindings(t *testing.T) {
	g := dsl.StreamingSource("in", "events").
		Apply("batch", dsl.Batch[[]byte](10, 0, dsl.BatchPerKey())).
		Sink("out", dsl.DevNullSink[[][]byte]()).
		MustBuild()
	fn := func(b Bindings) *batchFn {
		t.Helper()
		p, err := Translate("batch-bindings", g, b)
		if err != nil {
			t.Fatal(err)
		}
		edges, _, err := p.Build()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range edges {
			if e.DoFn != nil {
				if f, ok := e.DoFn.Recv.(*batchFn); ok {
					return f
				}
			}
		}
		t.Fatal("no batchFn in the pipeline")
		return nil
	}
	if f := fn(bindings()); f.Size != 10 || f.MaxWait != 0 || !f.PerKey {
		t.Errorf("code bounds: %d %v %v", f.Size, f.MaxWait, f.PerKey)
	}
	b := bindings()
	b.Batches = map[string]BatchBinding{"batch": {MaxWait: 3 * time.Second}}
	if f := fn(b); f.Size != 10 || f.MaxWait != 3*time.Second {
		t.Errorf("config wait: %d %v", f.Size, f.MaxWait)
	}
	b.Batches = map[string]BatchBinding{"batch": {Size: 2, MaxWait: time.Second}}
	if f := fn(b); f.Size != 2 || f.MaxWait != time.Second {
		t.Errorf("config bounds: %d %v", f.Size, f.MaxWait)
	}
}

func TestBatchMetaAndExperiments(t *testing.T) {
	m := batchMeta{count: 3, first: 1_704_067_201_000, newest: -5, deadline: 1 << 42}
	got, err := decodeBatchMeta(m.encode())
	if err != nil || got != m {
		t.Errorf("batch meta round trip: %+v, %v", got, err)
	}
	if _, err := decodeBatchMeta(m.encode()[:3]); err == nil {
		t.Errorf("truncated batch meta decoded")
	}
	if exps := Experiments(reducePipeline().MustBuild()); exps != nil {
		t.Errorf("experiments for a pipeline without Batch: %v", exps)
	}
	g := dsl.StreamingSource("in", "x").
		Apply("batch", dsl.Batch[[]byte](2, 0)).
		Sink("out", dsl.DevNullSink[[][]byte]()).MustBuild()
	if exps := Experiments(g); !reflect.DeepEqual(exps, []string{"prism_disable_sdf_split"}) {
		t.Errorf("experiments for a Batch: %v", exps)
	}
}

type upperKey string

func (k upperKey) MarshalJSON() ([]byte, error) { return json.Marshal(strings.ToUpper(string(k))) }

var keyJSONCases = []string{
	"", "a", "user-42", " ", "~", "a b", "{}", "[1]", "'", "/", "`",
	`"`, `\`, "<", ">", "&", "a<b", "x&y", `a"b`, `a\b`,
	"\x00", "\x1f", "\t", "\n", "\r", "\x7f", "\x80", "\xff", "a\xffb",
	"é", "日本", "\u2028", "\u2029", "\ufffd", "😀", "\xed\xa0\x80",
}

// TestKeyJSON checks that keyJSON gives json.Marshal's bytes, which
// durable state holds, for strings its fast path takes and those it does
// not, and for other keys.
func TestKeyJSON(t *testing.T) {
	cases := append([]string(nil), keyJSONCases...)
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}), "k"+string([]byte{byte(c)})+"k")
	}
	for _, s := range cases {
		checkKeyJSON(t, s)
	}
	for _, k := range []any{upperKey("abc"), 42, 1.5, true, nil, shopKey{Shop: "<s>", Region: 2}, []byte("raw"), struct{}{}} {
		checkKeyJSON(t, k)
	}
	if _, err := keyJSON(func() {}); err == nil {
		t.Errorf("a func key encoded")
	}
	if plainJSON("a<b") || !plainJSON("user-42") {
		t.Errorf("plainJSON")
	}
	var k any = strings.Repeat("user-", 4) // a key function's result is boxed already
	if n := testing.AllocsPerRun(100, func() { _, _ = keyJSON(k) }); n > 1 {
		t.Errorf("keyJSON of a plain string: %v allocations, want at most 1", n)
	}
}

func checkKeyJSON(t *testing.T, k any) {
	t.Helper()
	want, err := json.Marshal(k)
	if err != nil {
		t.Fatalf("json.Marshal(%q): %v", k, err)
	}
	got, err := keyJSON(k)
	if err != nil || got != string(want) {
		t.Errorf("keyJSON(%#v) = %q, %v; json.Marshal gives %q", k, got, err, want)
	}
}

func FuzzKeyJSON(f *testing.F) {
	for _, s := range keyJSONCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkKeyJSON(t, s) })
}
