package beamtranslate

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
)

// TestReduceAllTranslation: a ReduceAll is translated as a Reduce whose
// key the step sets: the chain before it keys every message, whatever its
// payload or Kafka key, with one constant key, and the window's output
// is a WindowValue without a Kafka key, at the window's last instant.
func TestReduceAllTranslation(t *testing.T) {
	const id = "reduce-all"
	g := dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[ev]()).
		Apply("total", dsl.ReduceAll(dsl.TumblingWindow(time.Minute), dsl.Sum(func(e ev) int { return e.N }))).
		Apply("ser", dsl.Serializer[dsl.WindowValue[int]]()).
		Sink("out", dsl.StreamSink("totals")).MustBuild()
	p, err := Translate(id, g, bindings("out"))
	if err != nil {
		t.Fatal(err)
	}
	fns, _ := doFns(t, p)
	keyer := fns["recordKeyFn"]
	if want := (chain{Pipeline: id, Source: "in", Steps: []string{"parse"}, Reduce: "total"}); len(keyer) != 1 || !reflect.DeepEqual(keyer[0].(*recordKeyFn).chain, want) {
		t.Fatalf("recordKeyFn: %#v, want one with %+v", keyer, want)
	}
	if len(fns["reduceOutputFn"]) != 1 {
		t.Errorf("DoFns: %v", fns)
	}

	fn := keyer[0].(*recordKeyFn)
	mustSetup(t, fn)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := map[string]int{}
	for i := range 6 {
		rec := kafka.Record{Topic: "events", Partition: int32(i % 3), Offset: int64(i), Key: fmt.Appendf(nil, "k%d", i),
			Value: fmt.Appendf(nil, `{"type":"t%d","n":%d}`, i%2, i), Timestamp: t0.Add(time.Duration(i) * time.Second)}
		fn.ProcessElement(mtime.FromTime(rec.Timestamp), rec, func(_ beam.EventTime, k string, _ element) { keys[k]++ },
			func(v invalid) { t.Errorf("rejected: %+v", v) })
	}
	fn.FinishBundle(context.Background(), nil, nil)
	if len(keys) != 1 || keys["{}"] != 6 {
		t.Errorf("keys of the messages: %v, want the six under one key", keys)
	}

	comb := &reduceCombineFn{Pipeline: id, Step: "total"}
	a, _ := comb.CreateAccumulator()
	for _, n := range []int{1, 2, 4} {
		if a, err = comb.AddInput(a, element{Payload: ev{N: n}}); err != nil {
			t.Fatal(err)
		}
	}
	outFn := &reduceOutputFn{Pipeline: id, Step: "total"}
	mustSetup(t, outFn)
	w := window.IntervalWindow{Start: mtime.FromTime(t0), End: mtime.FromTime(t0.Add(time.Minute))}
	var res []element
	var resTS []beam.EventTime
	if err := outFn.ProcessElement(w, "{}", a, func(ts beam.EventTime, e element) { res, resTS = append(res, e), append(resTS, ts) }); err != nil {
		t.Fatal(err)
	}
	want := dsl.WindowValue[int]{Start: t0, End: t0.Add(time.Minute), Value: 7}
	if len(res) != 1 || !reflect.DeepEqual(res[0].Payload, want) || res[0].Key != nil || resTS[0] != w.MaxTimestamp() {
		t.Errorf("output %+v at %v, want %+v", res, resTS, want)
	}
}
