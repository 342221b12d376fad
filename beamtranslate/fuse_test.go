package beamtranslate

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/observe"
)

// fusePipeline exercises what a fused DoFn must keep: rejects by a step
// and by the Reduce's key function, a step that moves the timestamp by
// less than a millisecond, a step with two outputs per message, headers
// and the source record for the dead-letter queue.
func fusePipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "sales").
		Apply("parse", dsl.Parser[sale]()).
		Apply("stamp", dsl.MapMessage(func(m dsl.Message[sale]) (dsl.Message[sale], error) {
			if m.Payload.Amount < 0 {
				return m, errors.New("negative amount")
			}
			m.Timestamp = m.Timestamp.Add(1500 * time.Microsecond)
			return m, nil
		})).
		Apply("twice", dsl.FlatMap(func(s sale) ([]sale, error) {
			t := s
			t.Amount *= 2
			return []sale{s, t}, nil
		})).
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
		s.MeanSeconds = 0 // sampled timings differ from run to run
		r.stats[name] = s
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
// replaces give one after the other: outputs, timestamps, rejects and
// every step's metrics.
func TestFusedDoFnsMatch(t *testing.T) {
	recs := fuseRecords()
	steps := []string{"parse", "stamp", "twice"}

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
	from.FinishBundle(nil)
	step.FinishBundle(nil, nil)
	want.finish("match-ref-plain")
	got := newRun(t, "match-fused-plain")
	fused := &recordStepFn{chain{Pipeline: "match-fused-plain", Steps: steps, Source: "in"}}
	mustSetup(t, fused)
	for _, r := range recs {
		fused.ProcessElement(mtime.FromTime(r.Timestamp), r, got.emit, got.reject)
	}
	fused.FinishBundle(nil, nil)
	got.finish("match-fused-plain")
	compareRuns(t, "recordStepFn", got, want)
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
