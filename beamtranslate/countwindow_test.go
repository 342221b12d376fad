package beamtranslate

import (
	"reflect"
	"strings"
	"testing"

	"github.com/streams-dev/streams/dsl"
)

func countWindowPipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[ev]()).
		Apply("count", dsl.Reduce(dsl.SlidingCountWindow(3, 2), func(e ev) string { return e.Type }, dsl.Count[ev]())).
		Apply("ser", dsl.Serializer[dsl.Windowed[string, int]]()).
		Apply("all", dsl.ReduceAll(dsl.TumblingCountWindow(2), dsl.Collect[[]byte]())).
		Apply("ser2", dsl.Serializer[dsl.WindowValue[[][]byte]]()).
		Sink("out", dsl.StreamSink("counts"))
}

// TestCountWindowTranslation: a count-windowed Reduce is keyed as a time
// window's is (by the chain before it, or reduceKeyFn after another
// Reduce), then runs in countWindowFn alone: no combine, no output DoFn,
// and no late-message composite even when late messages are bound for
// the dead-letter queue, since a count window has none. Prism needs its
// splits off, as for a Batch.
func TestCountWindowTranslation(t *testing.T) {
	const id = "count-window"
	b := bindings("out")
	b.Source.DLQ = &DLQBinding{Client: b.Source.Client, Topic: "dlq"}
	b.LateToDLQ = []string{"count", "all"}
	g := countWindowPipeline().MustBuild()
	p, err := Translate(id, g, b)
	if err != nil {
		t.Fatal(err)
	}
	fns, _ := doFns(t, p)
	for _, gone := range []string{"reduceCombineFn", "reduceOutputFn", "lateFn"} {
		if len(fns[gone]) > 0 {
			t.Errorf("a %s in a pipeline of count windows", gone)
		}
	}
	cw := fns["countWindowFn"]
	if len(cw) != 2 || cw[0].(*countWindowFn).Step != "count" || cw[1].(*countWindowFn).Step != "all" {
		t.Fatalf("countWindowFns: %#v", cw)
	}
	keyer := fns["recordKeyFn"]
	if want := (chain{Pipeline: id, Source: "in", Steps: []string{"parse"}, Reduce: "count"}); len(keyer) != 1 || !reflect.DeepEqual(keyer[0].(*recordKeyFn).chain, want) {
		t.Errorf("recordKeyFn: %#v, want one with %+v (no origin kept)", keyer, want)
	}
	if k := fns["keyStepFn"]; len(k) != 1 || k[0].(*keyStepFn).Reduce != "all" || k[0].(*keyStepFn).KeepOrigin {
		t.Errorf("keyStepFn: %#v, want one keying for all", k)
	}
	mustSetup(t, cw...)
	if !reflect.DeepEqual(Experiments(g), []string{"prism_disable_sdf_split"}) {
		t.Errorf("experiments: %v", Experiments(g))
	}
	if !strings.Contains(describe(t, p), "count") {
		t.Errorf("no scope for the step:\n%s", describe(t, p))
	}
}

func TestCountWindowSetupRefusesTimeWindows(t *testing.T) {
	Register("count-window-setup", reducePipeline().MustBuild())
	fn := &countWindowFn{Pipeline: "count-window-setup", Step: "max"}
	if err := fn.Setup(); err == nil || !strings.Contains(err.Error(), "not a count window") {
		t.Errorf("setup on a time window: %v", err)
	}
}

// TestCountWindowsStateRoundTrip: the state of a key survives its
// encoding, accumulators of registered types included, and a truncated
// state is an error rather than a misread.
func TestCountWindowsStateRoundTrip(t *testing.T) {
	Register("count-window-state", countWindowPipeline().MustBuild())
	ws := countWindows{seen: 1, open: []countWindow{
		{n: 2, first: 1_704_067_200_000, newest: 1_704_067_203_000, acc: 2},
		{n: 1, first: -5, newest: 7, acc: [][]byte{[]byte("a"), []byte("b")}},
	}}
	b, err := ws.encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeCountWindows(b)
	if err != nil || !reflect.DeepEqual(got, ws) {
		t.Errorf("round trip: %+v, %v; want %+v", got, err, ws)
	}
	for i := range len(b) - 1 {
		if _, err := decodeCountWindows(b[:i]); err == nil {
			t.Errorf("state cut at %d of %d bytes decoded", i, len(b))
		}
	}
	empty, err := countWindows{}.encode()
	if got, err2 := decodeCountWindows(empty); err != nil || err2 != nil || got.seen != 0 || got.open != nil {
		t.Errorf("empty state: %+v, %v, %v", got, err, err2)
	}
}
