package beamtranslate

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/observe"
)

// headersPipeline keeps the records of project 42 or 43 (Sentry's
// HeadersFilter), parses them and writes them out.
func headersPipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "events").
		Apply("project", dsl.HeadersFilter[[]byte]("project_id", 42, 43)).
		Apply("parse", dsl.Parser[ev]()).
		Apply("ser", dsl.Serializer[ev]()).
		Sink("out", dsl.StreamSink("kept"))
}

// TestHeadersFilterFused: a HeadersFilter is a filter step: it runs in
// the DoFn of the chain it is part of (here the source's records, the
// filter, the parser and the serializer are one ParDo), drops the
// records whose header holds another value or none, and rejects, to the
// dead-letter queue with its source record, a record whose header is not
// an integer; its metrics count it as itself.
func TestHeadersFilterFused(t *testing.T) {
	const id = "headers-fused"
	g := headersPipeline().MustBuild()
	b := bindings("out")
	b.Source.DLQ = &DLQBinding{Client: b.Source.Client, Topic: "dlq"}
	p, err := Translate(id, g, b)
	if err != nil {
		t.Fatal(err)
	}
	fns, _ := doFns(t, p)
	want := chain{Pipeline: id, Source: "in", Steps: []string{"project", "parse", "ser"}, Sink: &recordSink{Step: "out", Topic: "out-topic"}}
	if got := fns["recordSinkFn"]; len(got) != 1 || !reflect.DeepEqual(got[0].(*recordSinkFn).chain, want) {
		t.Fatalf("recordSinkFn: %#v, want one with %+v", got, want)
	}
	if len(fns["stepFn"]) > 0 || len(fns["fromRecordFn"]) > 0 || len(fns["toRecordFn"]) > 0 {
		t.Errorf("the filter is not fused: %v", fns)
	}

	t.Cleanup(observe.Register(id, observe.New(id, "local", g)))
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var recs []kafka.Record
	for i, hs := range [][]kafka.Header{
		{{Key: "project_id", Value: []byte("42")}},
		{{Key: "project_id", Value: []byte("7")}},
		nil,
		{{Key: "project_id", Value: []byte("forty-three")}},
		{{Key: "trace", Value: []byte("t")}, {Key: "project_id", Value: []byte("43")}},
	} {
		recs = append(recs, kafka.Record{Topic: "events", Partition: 0, Offset: int64(i),
			Value: fmt.Appendf(nil, `{"type":"event","n":%d}`, i), Headers: hs, Timestamp: t0})
	}
	fn := &recordSinkFn{want}
	mustSetup(t, fn)
	var r run
	for _, rec := range recs {
		fn.ProcessElement(mtime.FromTime(rec.Timestamp), rec, r.emitRecord, r.reject)
	}
	fn.FinishBundle(context.Background(), nil, nil)

	var got []string
	for _, o := range r.plain {
		got = append(got, string(o.E.Payload.([]byte)))
	}
	if want := []string{`{"type":"event","n":0}`, `{"type":"event","n":4}`}; !reflect.DeepEqual(got, want) {
		t.Errorf("kept %q, want %q", got, want)
	}
	if wantHs := []dsl.Header{{Key: "trace", Value: []byte("t")}, {Key: "project_id", Value: []byte("43")}}; len(r.plain) == 2 && !reflect.DeepEqual(r.plain[1].E.Headers, wantHs) {
		t.Errorf("headers of a kept record: %+v", r.plain[1].E.Headers)
	}
	if len(r.bad) != 1 || r.bad[0].Step != "project" || r.bad[0].Origin.Offset != 3 ||
		!strings.Contains(r.bad[0].Error, `header project_id: value "forty-three" is not a decimal integer`) {
		t.Errorf("rejected %+v", r.bad)
	}
	st := observe.Lookup(id).Stats().Steps["project"]
	if st.In != 5 || st.Out != 2 || st.Errors != 1 {
		t.Errorf("metrics of the filter: %+v", st)
	}
}
