package beamtranslate

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/contract"
)

// checkValues runs the DoFn of type name of a third translation of g on
// in with ProcessEncoded, its keyed messages handed over as values
// (EmitValues), and checks that each value, encoded with its key
// (AppendValue), is what the SDK's path wrote (want), in the same order
// among the other outputs; that the payloads whose encoding fails are
// still rejected by their step; that the Reduce's CombineFn adds each
// value as it adds the element holding it; and the metrics. It returns
// how many keyed messages went as values (also in lastValues).
func checkValues(t *testing.T, what, name string, g func() *dsl.Graph, b Bindings, in []encodedInput, want []encodedOutput, badCoder *coder.Coder) (values int) {
	t.Helper()
	id := "enc-val-" + what
	pd := theParDo(t, translatedParDos(t, id, g(), b), name)
	fn, ok := pd.fn.(contract.ValueDoFn)
	if !ok {
		return 0 // a sink's DoFn
	}
	mustSetup(t, pd.fn)
	ch := chainOf(t, pd.fn)
	if fn.EmitValues(1, func(beam.EventTime, []byte, any) {}) {
		t.Fatalf("%s: EmitValues(1) is true for the rejects", what)
	}
	var got []encodedOutput
	var cmb *reduceCombineFn
	if ch.Reduce != "" {
		cmb = &reduceCombineFn{Pipeline: id, Step: ch.Reduce}
		mustSetup(t, cmb)
	}
	emitValue := func(ts beam.EventTime, key []byte, v any) {
		values++
		enc, err := fn.AppendValue(0, bytes.Clone(key), v)
		if err != nil {
			t.Fatalf("%s: AppendValue: %v", what, err)
		}
		got = append(got, encodedOutput{0, ts, enc})
		if cmb != nil {
			checkValueAdded(t, what, cmb, v, enc[len(key):])
		}
	}
	if ok := fn.EmitValues(0, emitValue); ok != (ch.Reduce != "") {
		t.Fatalf("%s: EmitValues(0) is %v for a chain keying for %q", what, ok, ch.Reduce)
	}
	emit := func(out int, ts beam.EventTime, v []byte) {
		got = append(got, encodedOutput{out, ts, bytes.Clone(v)})
	}
	in0 := viaProto(t, pd.in)[0]
	for i, x := range in {
		data := encode(t, in0, &exec.FullValue{Elm: x.v, Timestamp: x.ts})
		if _, err := fn.ProcessEncoded(x.ts, data, emit); err != nil {
			t.Fatalf("%s: element %d: %v", what, i, err)
		}
	}
	if err := fn.FinishEncodedBundle(); err != nil {
		t.Fatal(err)
	}
	compareEncoded(t, what+" as values", got, want, badCoder)
	lastValues = values
	if g, w := stepStats(id), stepStats("enc-ref-"+what); !reflect.DeepEqual(g, w) {
		t.Errorf("%s metrics as values:\n got %+v\nwant %+v", what, g, w)
	}
	return values
}

// lastValues is what the last checkValues returned.
var lastValues int

// checkValueAdded checks that the accumulator AddValueInput makes of v
// is the one AddEncodedInput makes of v's encoding enc.
func checkValueAdded(t *testing.T, what string, cmb *reduceCombineFn, v any, enc []byte) {
	t.Helper()
	a, err := cmb.CreateAccumulator()
	if err != nil {
		t.Fatal(err)
	}
	byValue, err := cmb.AddValueInput(a, v)
	if err != nil {
		t.Fatalf("%s: AddValueInput: %v", what, err)
	}
	byBytes, err := cmb.AddEncodedInput(a, enc)
	if err != nil {
		t.Fatalf("%s: AddEncodedInput: %v", what, err)
	}
	g, err1 := encodeAccum(byValue.(accum))
	w, err2 := encodeAccum(byBytes.(accum))
	if err1 != nil || err2 != nil || !bytes.Equal(g, w) {
		t.Errorf("%s: a value adds %q (%v), its encoding %q (%v)", what, g, err1, w, err2)
	}
}

// chainOf is the chain of a DoFn.
func chainOf(t *testing.T, fn any) *chain {
	switch fn := fn.(type) {
	case *recordKeyFn:
		return &fn.chain
	case *keyStepFn:
		return &fn.chain
	case *recordSinkFn:
		return &fn.chain
	case *sinkStepFn:
		return &fn.chain
	}
	t.Fatalf("%T keys no chain", fn)
	return nil
}

// The value of a raw-bytes payload is copied when added: the runner's
// buffers it may alias are reused.
func TestAddValueInputCopiesBytes(t *testing.T) {
	id := "values-bytes"
	g := dsl.StreamingSource("in", "events").
		Apply("n", dsl.Reduce(dsl.TumblingWindow(60e9), func(b []byte) string { return "k" },
			dsl.Accumulator[[]byte, [][]byte, int]{
				Add:    func(acc [][]byte, b []byte) [][]byte { return append(acc, b) },
				Merge:  func(a, b [][]byte) [][]byte { return append(a, b...) },
				Result: func(acc [][]byte) int { return len(acc) },
			})).
		Sink("null", dsl.DevNullSink[dsl.Windowed[string, int]]()).MustBuild()
	translatedParDos(t, id, g, bindings())
	cmb := &reduceCombineFn{Pipeline: id, Step: "n"}
	mustSetup(t, cmb)
	a, err := cmb.CreateAccumulator()
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("abc")
	got, err := cmb.AddValueInput(a, buf)
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "xyz")
	if kept := got.(accum).V.([][]byte); len(kept) != 1 || string(kept[0]) != "abc" {
		t.Errorf("the accumulator holds %q after the runner's buffer changed, want [abc]", kept)
	}
}
