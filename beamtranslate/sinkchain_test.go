package beamtranslate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
)

// seedLike is the seed pipeline's shape with what a sink chain must
// carry: a step that rejects, one that moves timestamps and one that
// fans out, before a Kafka sink whose topic caps the record size.
func seedLike() *dsl.Graph {
	return dsl.StreamingSource("in", "sales").
		Apply("parse", dsl.Parser[sale]()).
		Apply("stamp", stampSale()).
		Apply("twice", twiceSale()).
		Apply("ser", dsl.Serializer[sale]()).
		Sink("out", dsl.StreamSink("sales-out")).MustBuild()
}

// TestRecordSinkFnEncoded checks that the chain making a Kafka sink's
// records from the source's records gives, on the encoded path, the
// bytes the SDK's coders write for what ProcessElement emits, at the
// same times, with the same metrics (the sink step's own included): in
// the seed pipeline's shape with steps that reject, move timestamps and
// fan out, a record too large for the sink's topic, and a source that
// feeds the sink directly.
func TestRecordSinkFnEncoded(t *testing.T) {
	recs := encodedRecords(
		jsonValue(sale{Shop: "s1", Amount: 1}),
		[]byte("not json"),
		jsonValue(sale{Shop: "s2", Amount: -1}),
		jsonValue(sale{Shop: strings.Repeat("big", 400), Amount: 2}),
		jsonValue(sale{Shop: `q"<&>\é`, Amount: 3}),
	)
	b := bindings("out")
	sb := b.Sinks["out"]
	sb.MaxRecordBytes = 1024
	b.Sinks["out"] = sb
	b.Source.DLQ = &DLQBinding{Client: b.Source.Client, Topic: "dlq"}
	outs, _ := checkEncoded(t, "seed", "recordSinkFn", seedLike, b, recordInputs(recs))
	// s1 and the quoted one: two records each; the big one: two rejected
	// by the sink (too large); "not json" and the negative amount: one
	// rejected each.
	if k, r := countOutputs(outs); k != 4 || r != 4 {
		t.Errorf("seed: %d records, %d rejected, want 4 and 4", k, r)
	}
	if st := stepStats("enc-got-seed")["out"]; st.In != 6 || st.Out != 4 || st.Errors != 2 {
		t.Errorf("metrics of the sink step: %+v", st)
	}

	direct := func() *dsl.Graph {
		return dsl.StreamingSource("in", "events").Sink("out", dsl.StreamSink("copy")).MustBuild()
	}
	outs, _ = checkEncoded(t, "direct", "recordSinkFn", direct, bindings("out"), recordInputs(recs))
	if k, r := countOutputs(outs); k != len(recs) || r != 0 {
		t.Errorf("direct: %d records, %d rejected, want %d and 0", k, r, len(recs))
	}
}

// TestSinkStepFnEncoded checks sinkStepFn's encoded path as
// TestRecordSinkFnEncoded checks recordSinkFn's, on a Router's branch
// that serializes into a Kafka sink.
func TestSinkStepFnEncoded(t *testing.T) {
	routed := func() *dsl.Graph {
		return dsl.StreamingSource("in", "events").
			Apply("parse", dsl.Parser[ev]()).
			Route("route", func(e ev) (string, error) {
				if e.Type == "other" {
					return "b", nil
				}
				return "a", nil
			},
				dsl.Branch[ev]("a").
					Apply("ser", dsl.Serializer[ev]()).
					Sink("out", dsl.StreamSink("a-topic")),
				dsl.Branch[ev]("b").Sink("null", dsl.DevNullSink[ev]())).
			MustBuild()
	}
	recs := encodedRecords(
		jsonValue(ev{Type: "click", N: 1}),
		jsonValue(ev{Type: "other", N: 2}),
		jsonValue(ev{Type: strings.Repeat("x", 200), N: 3}),
		[]byte("not json"),
	)
	b := bindings("out")
	in := routerMessages(t, "enc-src-routed", routed(), b, recs)
	outs, _ := checkEncoded(t, "routed", "sinkStepFn", routed, b, in)
	if k, r := countOutputs(outs); k != 2 || r != 0 {
		t.Errorf("routed: %d records, %d rejected, want 2 and 0", k, r)
	}
	for i, o := range outs {
		b, _, err := encodedElement(o.Value)
		var rec kafka.Record
		if err == nil {
			rec, err = kafka.DecodeRecord(b)
		}
		if err != nil || rec.Topic != "" || !strings.Contains(string(rec.Value), fmt.Sprint(`"n":`, []int{1, 3}[i])) {
			t.Errorf("routed: record %d: %+v, %v", i, rec, err)
		}
	}
}
