package localrunner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/worker"
)

type dslSale struct {
	Shop   string `json:"shop"`
	Amount int64  `json:"amount"`
}

// TestEncodedDSLStage runs the stage of a DSL pipeline that reads the
// source's records, parses them and keys them for a windowed Reduce
// (beamtranslate's fused DoFn, an EncodedDoFn) on the fast path and in the
// SDK's executor, on the same input: every output must be the same bytes.
// It covers rejected messages, headers, nil keys and values, a key
// function that panics, and event times from a user function, with the
// source records kept for late data (LateToDLQ) and without.
func TestEncodedDSLStage(t *testing.T) {
	for _, win := range []dsl.Window{dsl.TumblingWindow(10 * time.Second), dsl.SlidingWindow(10*time.Second, 5*time.Second), dsl.SessionWindow(3 * time.Second)} {
		for _, late := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/late=%v", win, late), func(t *testing.T) {
				testEncodedDSLStage(t, win, late)
			})
		}
	}
}

func testEncodedDSLStage(t *testing.T, win dsl.Window, late bool) {
	id := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	var opts []dsl.ReduceOption[dslSale]
	if win.Kind() == dsl.WindowSliding {
		// Event times from the payload rather than the record.
		opts = append(opts, dsl.WithEventTime(func(s dslSale) time.Time { return time.Unix(1_704_067_200+s.Amount, 0) }))
	}
	p := dsl.StreamingSource("in", "sales").
		Apply("parse", dsl.Parser[dslSale]()).
		Apply("total", dsl.Reduce(win, func(s dslSale) string {
			if s.Shop == "boom" {
				panic("no key for boom")
			}
			return s.Shop
		}, dsl.Sum(func(s dslSale) int64 { return s.Amount }), opts...)).
		Apply("ser", dsl.Serializer[dsl.Windowed[string, int64]]()).
		Sink("out", dsl.StreamSink("totals"))
	cc := kafka.ClientConfig{Brokers: []string{"kafka:9092"}}
	b := beamtranslate.Bindings{
		Source: beamtranslate.SourceBinding{Client: cc, Topic: "sales", Group: "g", DLQ: &beamtranslate.DLQBinding{Client: cc, Topic: "dlq"}},
		Sinks:  map[string]beamtranslate.SinkBinding{"out": {Client: cc, Topic: "totals"}},
	}
	if late {
		b.LateToDLQ = []string{"total"}
	}
	compareEncodedStage(t, id, p.MustBuild(), b)
}

// TestEncodedDSLBatchStage: the same for a chain that keys its messages
// for a Batch (no WindowInto: the keyed elements keep the source's
// global window), by partition and by message key.
func TestEncodedDSLBatchStage(t *testing.T) {
	for _, perKey := range []bool{false, true} {
		t.Run(fmt.Sprint("perKey=", perKey), func(t *testing.T) {
			var opts []dsl.BatchOption
			if perKey {
				opts = append(opts, dsl.BatchPerKey())
			}
			p := dsl.StreamingSource("in", "sales").
				Apply("parse", dsl.Parser[dslSale]()).
				Apply("batch", dsl.Batch[dslSale](3, time.Second, opts...)).
				Sink("out", dsl.DevNullSink[[]dslSale]())
			cc := kafka.ClientConfig{Brokers: []string{"kafka:9092"}}
			b := beamtranslate.Bindings{Source: beamtranslate.SourceBinding{Client: cc, Topic: "sales", Group: "g", DLQ: &beamtranslate.DLQBinding{Client: cc, Topic: "dlq"}}}
			compareEncodedStage(t, strings.ReplaceAll(t.Name(), "/", "-"), p.MustBuild(), b)
		})
	}
}

// compareEncodedStage translates g, finds the stage of its fused DoFn
// that reads the source's records and keys them, runs it on the fast
// path and in the SDK's executor on the same records, and checks that
// both write the same bytes.
func compareEncodedStage(t *testing.T, id string, g *dsl.Graph, b beamtranslate.Bindings) {
	t.Helper()
	st := keyingStage(t, id, g, b)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	js := func(s dslSale) []byte { b, _ := json.Marshal(s); return b }
	var recs []kafka.Record
	for i, v := range [][]byte{
		js(dslSale{Shop: "s1", Amount: 2}),
		[]byte("not json"),
		js(dslSale{Shop: "", Amount: 3}),
		js(dslSale{Shop: "boom", Amount: 1}),
		js(dslSale{Shop: `s"<&>\é`, Amount: 5}),
		nil,
		js(dslSale{Shop: "s1", Amount: 7}),
		js(dslSale{Shop: "s2", Amount: 40}),
	} {
		r := kafka.Record{
			Topic: "sales", Partition: int32(i % 2), Offset: int64(100 + i), Value: v,
			Timestamp: t0.Add(time.Duration(i) * 1234 * time.Millisecond),
		}
		if i%3 != 0 {
			r.Key = []byte(fmt.Sprint("k", i))
			r.Headers = []kafka.Header{{Key: "h", Value: []byte("v")}, {Key: "nil"}}
		}
		recs = append(recs, r)
	}
	in := sourceChunk(t, st, recs)

	run := func(s *plan.Stage) map[string]*worker.Output {
		t.Helper()
		p, err := worker.NewPlan(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, sdk := p.(*exec.Plan); sdk != (s.Encoded == nil) {
			t.Fatalf("stage encoded %v: the SDK's plan %v", s.Encoded != nil, sdk)
		}
		res := worker.Process(context.Background(), &worker.Bundle{ID: "b1", Stage: s, Plan: p, Input: [][]byte{in}})
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if err := res.Plan.Down(context.Background()); err != nil {
			t.Fatal(err)
		}
		return res.Outputs
	}
	sdkStage := *st
	sdkStage.Encoded = nil
	want := run(&sdkStage)
	got := run(st)
	if len(got) != len(want) || len(want) != 2 {
		t.Fatalf("outputs to %d PCollections on the fast path, %d in the SDK; want 2 (keyed, rejected)", len(got), len(want))
	}
	values := 0
	for pcol, w := range want {
		g := got[pcol]
		if g == nil {
			t.Errorf("%s: no output on the fast path", pcol)
			continue
		}
		values += len(g.Values)
		g = withValuesEncoded(t, st, pcol, g)
		if !bytes.Equal(g.Data, w.Data) || fmt.Sprint(g.Ends) != fmt.Sprint(w.Ends) || g.MinTS != w.MinTS {
			t.Errorf("%s: fast path wrote %d elements (%d bytes, min %v), the SDK %d (%d bytes, min %v)\nfast: %q\nsdk:  %q",
				pcol, len(g.Ends), len(g.Data), g.MinTS, len(w.Ends), len(w.Data), w.MinTS, g.Data, w.Data)
		}
	}
	// A Reduce's combine takes the keyed messages as values; a Batch's
	// stateful DoFn reads them encoded.
	if reduce := st.Encoded.Outputs[0].Values; reduce != (values > 0) {
		t.Errorf("%d values on an output marked for values %v", values, reduce)
	}
}

// The keyed messages of a Reduce go to its combine as values only where
// the combine reads them straight from the keying stage: not when a
// shuffle through an internal topic comes in between (its writer writes
// encoded elements).
func TestValuesOnlyStraightToTheCombine(t *testing.T) {
	cc := kafka.ClientConfig{Brokers: []string{"kafka:9092"}}
	b := beamtranslate.Bindings{
		Source: beamtranslate.SourceBinding{Client: cc, Topic: "sales", Group: "g"},
		Sinks:  map[string]beamtranslate.SinkBinding{"out": {Client: cc, Topic: "totals"}},
	}
	for _, shuffle := range []bool{false, true} {
		for _, partitioned := range []bool{false, true} {
			opts := []dsl.ReduceOption[dslSale]{}
			if partitioned {
				opts = append(opts, dsl.KeyFollowsPartitioning[dslSale]())
			}
			g := dsl.StreamingSource("in", "sales").
				Apply("parse", dsl.Parser[dslSale]()).
				Apply("total", dsl.Reduce(dsl.TumblingWindow(time.Minute), func(s dslSale) string { return s.Shop },
					dsl.Sum(func(s dslSale) int64 { return s.Amount }), opts...)).
				Apply("ser", dsl.Serializer[dsl.Windowed[string, int64]]()).
				Sink("out", dsl.StreamSink("totals")).MustBuild()
			id := fmt.Sprintf("values-shuffle-%v-%v", shuffle, partitioned)
			st := keyingStageOf(t, id, g, b, plan.Options{NativeKafka: true, EncodedDoFns: true, Shuffle: shuffle, Segment: -1})
			want := !shuffle || partitioned
			if got := st.Encoded.Outputs[0].Values; got != want {
				t.Errorf("shuffle %v, key follows the partitioning %v: keyed messages as values %v, want %v", shuffle, partitioned, got, want)
			}
		}
	}
}

// withValuesEncoded returns out with the values it holds (all its
// elements, for these payloads) encoded as the GroupByKey reading them
// would write them, pcol being an output of stage st.
func withValuesEncoded(t *testing.T, st *plan.Stage, pcol string, out *worker.Output) *worker.Output {
	t.Helper()
	if len(out.Values) == 0 {
		return out
	}
	if len(out.Ends) > 0 {
		t.Fatalf("%s: %d elements encoded and %d values: a payload of one type is always one or the other", pcol, len(out.Ends), len(out.Values))
	}
	var wenc exec.WindowEncoder
	for _, o := range st.Encoded.Outputs {
		if o.PCollection == pcol {
			wenc = exec.MakeWindowEncoder(o.Sink.Window)
		}
	}
	enc := *out
	enc.Data, enc.Values = nil, nil
	for i := range out.Values {
		var err error
		if enc.Data, err = group.AppendValue(enc.Data, wenc, out.Encode, &out.Values[i], nil); err != nil {
			t.Fatal(err)
		}
		enc.Ends = append(enc.Ends, len(enc.Data))
	}
	return &enc
}

// keyingStage translates g and returns the stage of its fused DoFn that
// reads the source's records and keys them, planned for the encoded path.
func keyingStage(tb testing.TB, id string, g *dsl.Graph, b beamtranslate.Bindings) *plan.Stage {
	tb.Helper()
	return keyingStageOf(tb, id, g, b, plan.Options{NativeKafka: true, EncodedDoFns: true})
}

// keyingStageOf is keyingStage, planned with opts.
func keyingStageOf(tb testing.TB, id string, g *dsl.Graph, b beamtranslate.Bindings, opts plan.Options) *plan.Stage {
	tb.Helper()
	bp, err := beamtranslate.Translate(id, g, b)
	if err != nil {
		tb.Fatal(err)
	}
	pp, err := localrunner.Marshal(bp)
	if err != nil {
		tb.Fatal(err)
	}
	pl, err := plan.Build(pp, opts)
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range pl.Stages {
		if s.Encoded != nil && strings.Contains(strings.Join(s.Names, " "), "recordKeyFn") {
			return s
		}
	}
	tb.Fatalf("no encoded stage with the fused record DoFn in\n%s", pl)
	return nil
}

// sourceChunk encodes records as the native Kafka source hands them to
// stage st: windowed values in the global window at their timestamps.
func sourceChunk(tb testing.TB, st *plan.Stage, recs []kafka.Record) []byte {
	tb.Helper()
	enc := exec.MakeElementEncoder(coder.SkipW(st.Encoded.Input))
	wenc := exec.MakeWindowEncoder(st.Encoded.Input.Window)
	var in bytes.Buffer
	for _, r := range recs {
		ts := mtime.FromTime(r.Timestamp)
		if err := exec.EncodeWindowedValueHeader(wenc, window.SingleGlobalWindow, ts, typex.NoFiringPane(), &in); err != nil {
			tb.Fatal(err)
		}
		if err := enc.Encode(&exec.FullValue{Elm: r, Timestamp: ts}, &in); err != nil {
			tb.Fatal(err)
		}
	}
	return in.Bytes()
}

// BenchmarkKeyingStage is the per-record cost of the stage that reads the
// source's records, parses their JSON and keys them, for a Reduce in
// tumbling windows and for a Batch, run by the worker in the SDK's
// executor and on the encoded path, side by side (bundles of 1,000
// records, as the Kafka source hands them on).
func BenchmarkKeyingStage(b *testing.B) {
	cc := kafka.ClientConfig{Brokers: []string{"kafka:9092"}}
	bind := beamtranslate.Bindings{
		Source: beamtranslate.SourceBinding{Client: cc, Topic: "sales", Group: "g", DLQ: &beamtranslate.DLQBinding{Client: cc, Topic: "dlq"}},
		Sinks:  map[string]beamtranslate.SinkBinding{"out": {Client: cc, Topic: "totals"}},
	}
	graphs := map[string]*dsl.Graph{
		"reduce": dsl.StreamingSource("in", "sales").
			Apply("parse", dsl.Parser[dslSale]()).
			Apply("total", dsl.Reduce(dsl.TumblingWindow(10*time.Second), func(s dslSale) string { return s.Shop },
				dsl.Sum(func(s dslSale) int64 { return s.Amount }))).
			Apply("ser", dsl.Serializer[dsl.Windowed[string, int64]]()).
			Sink("out", dsl.StreamSink("totals")).MustBuild(),
		"batch": dsl.StreamingSource("in", "sales").
			Apply("parse", dsl.Parser[dslSale]()).
			Apply("batch", dsl.Batch[dslSale](1000, time.Second)).
			Sink("out", dsl.DevNullSink[[]dslSale]()).MustBuild(),
	}
	recs := make([]kafka.Record, 1000)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range recs {
		v, _ := json.Marshal(map[string]any{"shop": fmt.Sprint("s", i%100), "amount": i % 1000, "id": i, "payload": strings.Repeat("x", 80)})
		recs[i] = kafka.Record{Topic: "sales", Partition: int32(i % 4), Offset: int64(i), Value: v, Timestamp: t0.Add(time.Duration(i) * time.Millisecond)}
	}
	for _, name := range []string{"reduce", "batch"} {
		st := keyingStage(b, "bench-keying-"+name, graphs[name], bind)
		in := sourceChunk(b, st, recs)
		sdk := *st
		sdk.Encoded = nil
		for _, mode := range []struct {
			name  string
			stage *plan.Stage
		}{{"sdk", &sdk}, {"encoded", st}} {
			b.Run(name+"/"+mode.name, func(b *testing.B) {
				p, err := worker.NewPlan(mode.stage)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					res := worker.Process(context.Background(), &worker.Bundle{ID: "b", Stage: mode.stage, Plan: p, Input: [][]byte{in}})
					if res.Err != nil {
						b.Fatal(res.Err)
					}
					p = res.Plan
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
				if err := p.Down(context.Background()); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
