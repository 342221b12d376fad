package beamtranslate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/observe"
)

// windowedPipeline is the windowed benchmark's shape: source, a parser, a
// Reduce in tumbling windows, a serializer, a sink.
func windowedPipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[ev]()).
		Apply("count", dsl.Reduce(dsl.TumblingWindow(10*time.Second), func(e ev) string { return e.Type }, dsl.Count[ev]())).
		Apply("ser", dsl.Serializer[dsl.Windowed[string, int]]()).
		Sink("out", dsl.StreamSink("counts"))
}

// doFns returns the DoFns of p's ParDos, by type name, and how many
// ParDos the pipeline proto has.
func doFns(t *testing.T, p *beam.Pipeline) (map[string][]any, int) {
	t.Helper()
	edges, _, err := p.Build()
	if err != nil {
		t.Fatal(err)
	}
	fns := map[string][]any{}
	for _, e := range edges {
		if e.DoFn != nil {
			name := reflect.TypeOf(e.DoFn.Recv).Elem().Name()
			fns[name] = append(fns[name], e.DoFn.Recv)
		}
	}
	pardos := strings.Count(describe(t, p), "[beam:transform:pardo:v1]")
	return fns, pardos
}

// TestFusedTranslation checks which DoFns run the steps: the source's
// records, the chain of steps and a Reduce's keying are one ParDo where
// they follow one another.
func TestFusedTranslation(t *testing.T) {
	b := bindings("out")
	b.Source.DLQ = &DLQBinding{Client: b.Source.Client, Topic: "dlq"}
	b.LateToDLQ = []string{"count"}
	p, err := Translate("fused-windowed", windowedPipeline().MustBuild(), b)
	if err != nil {
		t.Fatal(err)
	}
	fns, pardos := doFns(t, p)
	// listFn and readFn (the source), recordKeyFn (in+parse+count's
	// keying), the combine's, reduceOutputFn, lateFn, sinkStepFn (ser
	// and out's records), writeFn (out), dlqRecordFn and writeFn (the
	// DLQ).
	if pardos != 10 {
		t.Errorf("%d ParDos, want 10:\n%s", pardos, describe(t, p))
	}
	for _, gone := range []string{"fromRecordFn", "reduceKeyFn", "recordStepFn", "keyStepFn", "stepFn", "toRecordFn"} {
		if len(fns[gone]) > 0 {
			t.Errorf("a %s in the windowed pipeline", gone)
		}
	}
	if got := fns["recordKeyFn"]; len(got) != 1 || !reflect.DeepEqual(got[0].(*recordKeyFn).chain,
		chain{Pipeline: "fused-windowed", Steps: []string{"parse"}, Source: "in", Reduce: "count", KeepOrigin: true}) {
		t.Errorf("recordKeyFn: %#v", got)
	}
	if got := fns["sinkStepFn"]; len(got) != 1 || !reflect.DeepEqual(got[0].(*sinkStepFn).chain,
		chain{Pipeline: "fused-windowed", Steps: []string{"ser"}, Sink: &recordSink{Step: "out", Topic: "out-topic"}}) {
		t.Errorf("sinkStepFn: %#v", got)
	}

	// A Reduce right after the source: one DoFn reads and keys. A Reduce
	// after a Reduce keeps its own keying DoFn.
	g := dsl.StreamingSource("in", "events").
		Apply("count", dsl.Reduce(dsl.TumblingWindow(time.Second), func(b []byte) string { return string(b) }, dsl.Count[[]byte]())).
		Apply("total", dsl.Reduce(dsl.TumblingWindow(time.Minute), func(dsl.Windowed[string, int]) int { return 0 },
			dsl.Sum(func(w dsl.Windowed[string, int]) int { return w.Value }))).
		Sink("null", dsl.DevNullSink[dsl.Windowed[int, int]]()).MustBuild()
	p, err = Translate("fused-source-reduce", g, bindings())
	if err != nil {
		t.Fatal(err)
	}
	fns, _ = doFns(t, p)
	if got := fns["recordKeyFn"]; len(got) != 1 || !reflect.DeepEqual(got[0].(*recordKeyFn).chain,
		chain{Pipeline: "fused-source-reduce", Source: "in", Reduce: "count"}) {
		t.Errorf("recordKeyFn: %#v", got)
	}
	if got := fns["reduceKeyFn"]; len(got) != 1 || got[0].(*reduceKeyFn).Step != "total" {
		t.Errorf("reduceKeyFn: %#v", got)
	}
	if len(fns["fromRecordFn"]) > 0 || len(fns["stepFn"]) > 0 {
		t.Errorf("DoFns: %v", fns)
	}

	// A Batch after a chain: the chain's DoFn keys its messages by batch;
	// one right after the source: one DoFn reads and keys.
	for _, parse := range []bool{true, false} {
		var g *dsl.Graph
		want := chain{Pipeline: fmt.Sprint("fused-batch-", parse), Source: "in", Batch: "batch", BatchPerKey: true}
		if parse {
			g = dsl.StreamingSource("in", "events").
				Apply("parse", dsl.Parser[ev]()).
				Apply("batch", dsl.Batch[ev](10, time.Second, dsl.BatchPerKey())).
				Sink("null", dsl.DevNullSink[[]ev]()).MustBuild()
			want.Steps = []string{"parse"}
		} else {
			g = dsl.StreamingSource("in", "events").
				Apply("batch", dsl.Batch[[]byte](10, time.Second, dsl.BatchPerKey())).
				Sink("null", dsl.DevNullSink[[][]byte]()).MustBuild()
		}
		p, err = Translate(want.Pipeline, g, bindings())
		if err != nil {
			t.Fatal(err)
		}
		fns, _ = doFns(t, p)
		if got := fns["recordKeyFn"]; len(got) != 1 || !reflect.DeepEqual(got[0].(*recordKeyFn).chain, want) {
			t.Errorf("recordKeyFn: %#v", got)
		}
		if len(fns["batchKeyFn"]) > 0 || len(fns["fromRecordFn"]) > 0 || len(fns["recordStepFn"]) > 0 || len(fns["batchFn"]) != 1 {
			t.Errorf("DoFns: %v", fns)
		}
	}

	// A branch of a Router that reduces keys in the branch's DoFn; the
	// source's records go to the chain before the router.
	g = dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[ev]()).
		Route("route", func(e ev) (string, error) { return e.Type, nil },
			dsl.Branch[ev]("a").
				Apply("count", dsl.Reduce(dsl.TumblingWindow(time.Second), func(e ev) string { return e.Type }, dsl.Count[ev]())).
				Sink("null", dsl.DevNullSink[dsl.Windowed[string, int]]()),
			dsl.Branch[ev]("b").Sink("null-b", dsl.DevNullSink[ev]())).
		MustBuild()
	p, err = Translate("fused-branch", g, bindings())
	if err != nil {
		t.Fatal(err)
	}
	fns, _ = doFns(t, p)
	if got := fns["recordStepFn"]; len(got) != 1 || !reflect.DeepEqual(got[0].(*recordStepFn).Steps, []string{"parse", "route"}) {
		t.Errorf("recordStepFn: %#v", got)
	}
	if got := fns["keyStepFn"]; len(got) != 1 || !reflect.DeepEqual(got[0].(*keyStepFn).chain,
		chain{Pipeline: "fused-branch", Steps: []string{"a"}, Routed: true, Reduce: "count"}) {
		t.Errorf("keyStepFn: %#v", got)
	}
	if got := fns["stepFn"]; len(got) != 1 || !reflect.DeepEqual(got[0].(*stepFn).Steps, []string{"b"}) {
		t.Errorf("stepFn: %#v", got)
	}
}

// fusePipeline exercises what a fused DoFn must keep: rejects by a step
// and by the Reduce's key function, a step that moves the timestamp by
// less than a millisecond, a step with two outputs per message, headers
// and the source record for the dead-letter queue.
// stampSale rejects a negative amount and moves a sale's timestamp by
// 1.5 ms (below Beam's millisecond).
func stampSale() dsl.Step[sale, sale] {
	return dsl.MapMessage(func(m dsl.Message[sale]) (dsl.Message[sale], error) {
		if m.Payload.Amount < 0 {
			return m, errors.New("negative amount")
		}
		m.Timestamp = m.Timestamp.Add(1500 * time.Microsecond)
		return m, nil
	})
}

// twiceSale emits a sale, then a copy with twice its amount.
func twiceSale() dsl.Step[sale, sale] {
	return dsl.FlatMap(func(s sale) ([]sale, error) {
		t := s
		t.Amount *= 2
		return []sale{s, t}, nil
	})
}

func fusePipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "sales").
		Apply("parse", dsl.Parser[sale]()).
		Apply("stamp", stampSale()).
		Apply("twice", twiceSale()).
		Apply("max", dsl.Reduce(dsl.TumblingWindow(time.Minute),
			func(s sale) string {
				if s.Shop == "" {
					panic("no shop")
				}
				return s.Shop
			},
			dsl.Max(func(s sale) float64 { return s.Amount }))).
		Sink("out", dsl.DevNullSink[dsl.Windowed[string, float64]]())
}

type keyedOut struct {
	TS  beam.EventTime
	Key string
	E   element
}

type plainOut struct {
	TS beam.EventTime
	E  element
}

// run is one configuration of DoFns: it processes records and collects
// what comes out, and the pipeline's step metrics.
type run struct {
	keyed []keyedOut
	plain []plainOut
	bad   []invalid
	stats map[string]observe.StepStats
}

func (r *run) emitKV(ts beam.EventTime, k string, e element) {
	r.keyed = append(r.keyed, keyedOut{ts, k, e})
}
func (r *run) emit(ts beam.EventTime, e element) { r.plain = append(r.plain, plainOut{ts, e}) }
func (r *run) reject(v invalid)                  { r.bad = append(r.bad, v) }

// emitRecord takes a sink chain's record as the message it was made of.
func (r *run) emitRecord(ts beam.EventTime, rec kafka.Record) {
	r.plain = append(r.plain, plainOut{ts, element{Payload: rec.Value, Key: rec.Key, Headers: dslHeaders(rec.Headers)}})
}

func fuseRecords() []kafka.Record {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	js := func(s sale) []byte { b, _ := json.Marshal(s); return b }
	hs := []kafka.Header{{Key: "h", Value: []byte("v")}}
	var recs []kafka.Record
	for i, v := range [][]byte{
		js(sale{Shop: "s1", Amount: 2}),
		[]byte("not json"),
		js(sale{Shop: "", Amount: 3}),
		js(sale{Shop: "s2", Amount: -1}),
		js(sale{Shop: `s"<&>\é`, Amount: 5}),
		nil,
		js(sale{Shop: "s1", Amount: 7}),
	} {
		recs = append(recs, kafka.Record{
			Topic: "sales", Partition: int32(i % 2), Offset: int64(100 + i),
			Key: []byte(fmt.Sprint("k", i)), Value: v, Headers: hs,
			Timestamp: t0.Add(time.Duration(i) * 1234 * time.Millisecond),
		})
	}
	return recs
}

// newRun registers the pipeline and its metrics under id.
func newRun(t *testing.T, id string) *run {
	t.Helper()
	g := fusePipeline().MustBuild()
	Register(id, g)
	t.Cleanup(observe.Register(id, observe.New(id, "local", g)))
	return &run{}
}

func (r *run) finish(id string) {
	r.stats = observe.Lookup(id).Stats().Steps
	for name, s := range r.stats {
		r.stats[name] = s.Counts()
	}
}

type setupper interface{ Setup() error }

func mustSetup(t *testing.T, fns ...any) {
	t.Helper()
	for _, fn := range fns {
		var err error
		switch fn := fn.(type) {
		case setupper:
			err = fn.Setup()
		case interface{ Setup() }:
			fn.Setup()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestFusedDoFnsMatch checks that each fused DoFn gives what the DoFns it
// replaces give one after the other: outputs, timestamps, keys, rejects
// and every step's metrics.
func TestFusedDoFnsMatch(t *testing.T) {
	recs := fuseRecords()
	steps := []string{"parse", "stamp", "twice"}

	// Source, chain and keying: recordKeyFn against fromRecordFn, stepFn
	// and reduceKeyFn.
	for _, keep := range []bool{false, true} {
		want := newRun(t, fmt.Sprint("match-ref-", keep))
		from := &fromRecordFn{Pipeline: fmt.Sprint("match-ref-", keep), Step: "in"}
		step := &stepFn{chain{Pipeline: fmt.Sprint("match-ref-", keep), Steps: steps}}
		key := &reduceKeyFn{Pipeline: fmt.Sprint("match-ref-", keep), Step: "max", KeepOrigin: keep}
		mustSetup(t, from, step, key)
		for _, r := range recs {
			from.ProcessElement(mtime.FromTime(r.Timestamp), r, func(ts beam.EventTime, e element) {
				step.ProcessElement(ts, e, func(ts beam.EventTime, e element) {
					key.ProcessElement(ts, e, want.emitKV, want.reject)
				}, want.reject)
			})
		}
		from.FinishBundle(context.Background(), nil)
		step.FinishBundle(context.Background(), nil, nil)
		want.finish(fmt.Sprint("match-ref-", keep))

		got := newRun(t, fmt.Sprint("match-fused-", keep))
		fused := &recordKeyFn{chain{Pipeline: fmt.Sprint("match-fused-", keep), Steps: steps, Source: "in", Reduce: "max", KeepOrigin: keep}}
		mustSetup(t, fused)
		for _, r := range recs {
			fused.ProcessElement(mtime.FromTime(r.Timestamp), r, got.emitKV, got.reject)
		}
		fused.FinishBundle(context.Background(), nil, nil)
		got.finish(fmt.Sprint("match-fused-", keep))
		compareRuns(t, fmt.Sprintf("recordKeyFn (KeepOrigin %v)", keep), got, want)
		if len(got.keyed) != 6 || len(got.bad) != 5 || got.stats["in"].In != float64(len(recs)) {
			t.Errorf("recordKeyFn: %d keyed, %d rejected, stats %v", len(got.keyed), len(got.bad), got.stats)
		}
	}

	// Source and chain: recordStepFn against fromRecordFn and stepFn.
	want := newRun(t, "match-ref-plain")
	from := &fromRecordFn{Pipeline: "match-ref-plain", Step: "in"}
	step := &stepFn{chain{Pipeline: "match-ref-plain", Steps: steps}}
	mustSetup(t, from, step)
	for _, r := range recs {
		from.ProcessElement(mtime.FromTime(r.Timestamp), r, func(ts beam.EventTime, e element) {
			step.ProcessElement(ts, e, want.emit, want.reject)
		})
	}
	from.FinishBundle(context.Background(), nil)
	step.FinishBundle(context.Background(), nil, nil)
	want.finish("match-ref-plain")
	got := newRun(t, "match-fused-plain")
	fused := &recordStepFn{chain{Pipeline: "match-fused-plain", Steps: steps, Source: "in"}}
	mustSetup(t, fused)
	for _, r := range recs {
		fused.ProcessElement(mtime.FromTime(r.Timestamp), r, got.emit, got.reject)
	}
	fused.FinishBundle(context.Background(), nil, nil)
	got.finish("match-fused-plain")
	compareRuns(t, "recordStepFn", got, want)

	// Chain and keying on messages: keyStepFn against stepFn and
	// reduceKeyFn; the source alone and keying: recordKeyFn without steps
	// against fromRecordFn and reduceKeyFn (with payloads a parser made:
	// the chain before them parses).
	var msgs []plainOut
	from = &fromRecordFn{Pipeline: "match-ref-plain", Step: "in"}
	mustSetup(t, from)
	for _, r := range recs {
		from.ProcessElement(mtime.FromTime(r.Timestamp), r, func(ts beam.EventTime, e element) { msgs = append(msgs, plainOut{ts, e}) })
	}
	want = newRun(t, "match-ref-msgs")
	step = &stepFn{chain{Pipeline: "match-ref-msgs", Steps: steps}}
	key := &reduceKeyFn{Pipeline: "match-ref-msgs", Step: "max", KeepOrigin: true}
	mustSetup(t, step, key)
	for _, m := range msgs {
		step.ProcessElement(m.TS, m.E, func(ts beam.EventTime, e element) { key.ProcessElement(ts, e, want.emitKV, want.reject) }, want.reject)
	}
	step.FinishBundle(context.Background(), nil, nil)
	want.finish("match-ref-msgs")
	got = newRun(t, "match-fused-msgs")
	ks := &keyStepFn{chain{Pipeline: "match-fused-msgs", Steps: steps, Reduce: "max", KeepOrigin: true}}
	mustSetup(t, ks)
	for _, m := range msgs {
		ks.ProcessElement(m.TS, m.E, got.emitKV, got.reject)
	}
	ks.FinishBundle(context.Background(), nil, nil)
	got.finish("match-fused-msgs")
	compareRuns(t, "keyStepFn", got, want)

	want = newRun(t, "match-ref-bare")
	from = &fromRecordFn{Pipeline: "match-ref-bare", Step: "in"}
	key = &reduceKeyFn{Pipeline: "match-ref-bare", Step: "max"}
	mustSetup(t, from, key)
	// The records' payloads are bytes, which the key function refuses:
	// every one is rejected by the Reduce, naming it.
	for _, r := range recs {
		from.ProcessElement(mtime.FromTime(r.Timestamp), r, func(ts beam.EventTime, e element) { key.ProcessElement(ts, e, want.emitKV, want.reject) })
	}
	from.FinishBundle(context.Background(), nil)
	want.finish("match-ref-bare")
	got = newRun(t, "match-fused-bare")
	bare := &recordKeyFn{chain{Pipeline: "match-fused-bare", Source: "in", Reduce: "max"}}
	mustSetup(t, bare)
	for _, r := range recs {
		bare.ProcessElement(mtime.FromTime(r.Timestamp), r, got.emitKV, got.reject)
	}
	bare.FinishBundle(context.Background(), nil, nil)
	got.finish("match-fused-bare")
	compareRuns(t, "recordKeyFn without steps", got, want)
	if len(got.bad) != len(recs) || got.bad[0].Step != "max" || got.stats["in"].In != float64(len(recs)) {
		t.Errorf("recordKeyFn without steps: rejected %+v, stats %v", got.bad, got.stats)
	}

	// Source, chain and a Batch's keying: recordKeyFn against
	// fromRecordFn, stepFn and batchKeyFn, by partition and by key.
	for _, perKey := range []bool{false, true} {
		id := fmt.Sprint("match-batch-", perKey)
		want := newRun(t, id+"-ref")
		from := &fromRecordFn{Pipeline: id + "-ref", Step: "in"}
		step := &stepFn{chain{Pipeline: id + "-ref", Steps: steps}}
		key := &batchKeyFn{PerKey: perKey}
		mustSetup(t, from, step)
		for _, r := range recs {
			from.ProcessElement(mtime.FromTime(r.Timestamp), r, func(ts beam.EventTime, e element) {
				step.ProcessElement(ts, e, func(ts beam.EventTime, e element) { key.ProcessElement(ts, e, want.emitKV) }, want.reject)
			})
		}
		from.FinishBundle(context.Background(), nil)
		step.FinishBundle(context.Background(), nil, nil)
		want.finish(id + "-ref")
		got := newRun(t, id+"-fused")
		fused := &recordKeyFn{chain{Pipeline: id + "-fused", Steps: steps, Source: "in", Batch: "batch", BatchPerKey: perKey}}
		mustSetup(t, fused)
		for _, r := range recs {
			fused.ProcessElement(mtime.FromTime(r.Timestamp), r, got.emitKV, got.reject)
		}
		fused.FinishBundle(context.Background(), nil, nil)
		got.finish(id + "-fused")
		compareRuns(t, fmt.Sprintf("recordKeyFn for a Batch (per key %v)", perKey), got, want)
		if len(got.keyed) != 8 || got.keyed[0].E.Origin == nil {
			t.Errorf("recordKeyFn for a Batch: %d keyed (want 8, each with its source record): %+v", len(got.keyed), got.keyed)
		}
	}
}

func compareRuns(t *testing.T, what string, got, want *run) {
	t.Helper()
	if !reflect.DeepEqual(got.keyed, want.keyed) {
		t.Errorf("%s keyed:\n got %+v\nwant %+v", what, got.keyed, want.keyed)
	}
	if !reflect.DeepEqual(got.plain, want.plain) {
		t.Errorf("%s emitted:\n got %+v\nwant %+v", what, got.plain, want.plain)
	}
	if !reflect.DeepEqual(got.bad, want.bad) {
		t.Errorf("%s rejected:\n got %+v\nwant %+v", what, got.bad, want.bad)
	}
	if !reflect.DeepEqual(got.stats, want.stats) {
		t.Errorf("%s metrics:\n got %+v\nwant %+v", what, got.stats, want.stats)
	}
}
