package beamtranslate

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/contract"
	"github.com/streams-dev/streams/io/kafka"
)

// A chain whose last step feeds a Kafka sink makes the sink's records
// itself, as toRecordFn would after it: the chain's DoFn emits records
// straight into the sink's kafka.Write. On the bundled runner, which
// executes that write natively, the chain then runs on the encoded fast
// path, alone in its stage, and its bundles do not wait for the records'
// acknowledgements.
//
//	sinkStepFn    message -> record for a Kafka sink
//	recordSinkFn  source record -> record for a Kafka sink

func init() {
	register.DoFn4x0[beam.EventTime, element, func(beam.EventTime, kafka.Record), func(invalid)](&sinkStepFn{})
	register.DoFn4x0[beam.EventTime, kafka.Record, func(beam.EventTime, kafka.Record), func(invalid)](&recordSinkFn{})
	register.Emitter2[beam.EventTime, kafka.Record]()
}

// recordSink is the Kafka sink step a chain makes records for: Step, its
// topic and the most its topic accepts (MaxBytes), as toRecordFn has
// them.
type recordSink struct {
	Step     string
	Topic    string `json:",omitempty"`
	MaxBytes int32  `json:",omitempty"`

	counted
	rejected uint64
	out      func(beam.EventTime, kafka.Record)
}

func (k *recordSink) setup(pipeline string) { k.counted.setup(pipeline, k.Step) }

// flush adds the bundle's counts to the sink step's metrics.
func (k *recordSink) flush(ctx context.Context) {
	k.step.add(ctx, k.n, k.n-k.rejected, k.rejected)
	k.n, k.rejected = 0, 0
}

// sendRecord makes the record of the sink for m, the chain's output at
// t, and emits it, or rejects m when its record is larger than the topic
// accepts.
func (c *chain) sendRecord(t beam.EventTime, m dsl.Any) {
	k := c.Sink
	k.n++
	r, err := sinkRecord(k.Step, k.Topic, k.MaxBytes, t, element{Payload: m.Payload, Key: m.Key, Headers: m.Headers})
	if err != nil {
		k.rejected++
		c.bad(invalid{Step: k.Step, Error: err.Error(), Origin: c.originRef().value()})
		return
	}
	k.out(t, r)
}

// sinkRecord is the record a Kafka sink step writes for message e at ts,
// or the error that rejects e: a record larger than the topic accepts
// (maxBytes, see kafka.Record.BatchSize).
func sinkRecord(step, topic string, maxBytes int32, ts beam.EventTime, e element) (kafka.Record, error) {
	v, ok := e.Payload.([]byte)
	if !ok && e.Payload != nil {
		// The DSL's types make this unreachable; say so loudly if not.
		panic(fmt.Sprintf("beamtranslate: sink %s got a %T payload, want []byte", step, e.Payload))
	}
	var t time.Time // zero: the producer stamps the record
	if ts > mtime.MinTimestamp && ts < mtime.EndOfGlobalWindowTime {
		// Beam's sentinel times (after a global-window aggregation) are no
		// Kafka timestamps.
		t = ts.ToTime()
	}
	r := kafka.Record{Key: e.Key, Value: v, Headers: kafkaHeaders(e.Headers, 0), Timestamp: t}
	return r, tooLarge(step, topic, r, maxBytes)
}

// sinkStepFn runs a chain of DSL transform steps on messages and makes
// the records of the Kafka sink after them: stepFn and toRecordFn in one.
type sinkStepFn struct{ chain }

func (fn *sinkStepFn) FinishBundle(ctx context.Context, _ func(beam.EventTime, kafka.Record), _ func(invalid)) {
	fn.flush(ctx)
}

func (fn *sinkStepFn) ProcessElement(ts beam.EventTime, e element, emit func(beam.EventTime, kafka.Record), bad func(invalid)) {
	fn.Sink.out, fn.bad = emit, bad
	fn.message(ts, e)
}

// recordSinkFn runs a chain of DSL transform steps on the source's
// records and makes the records of the Kafka sink after them:
// fromRecordFn, stepFn and toRecordFn in one.
type recordSinkFn struct{ chain }

func (fn *recordSinkFn) FinishBundle(ctx context.Context, _ func(beam.EventTime, kafka.Record), _ func(invalid)) {
	fn.flush(ctx)
}

func (fn *recordSinkFn) ProcessElement(ts beam.EventTime, r kafka.Record, emit func(beam.EventTime, kafka.Record), bad func(invalid)) {
	fn.Sink.out, fn.bad = emit, bad
	fn.record(ts, r)
}

// The chains that make a sink's records run on the bundled runner's
// encoded fast path.
var (
	_ contract.EncodedDoFn = (*sinkStepFn)(nil)
	_ contract.EncodedDoFn = (*recordSinkFn)(nil)
)

// ProcessEncodedFor reports whether the DoFn can run with ProcessEncoded:
// its input's element coder is the element coder and its outputs' are
// the Record and invalid coders, as the translation gives them.
func (fn *sinkStepFn) ProcessEncodedFor(in *coder.Coder, outs []*coder.Coder) bool {
	return isCustomCoder(in, elementType) && recordOutputs(outs)
}

// ProcessEncoded does what ProcessElement does for the message encoded
// at the front of data (by the element coder, length-prefixed), at ts:
// it emits each record (output 0) and each rejected message (output 1)
// encoded as the SDK's coders encode them, and returns the number of
// bytes the message took.
func (fn *sinkStepFn) ProcessEncoded(ts beam.EventTime, data []byte, emit func(out int, ts beam.EventTime, value []byte)) (n int, err error) {
	return fn.encodedMessage(ts, data, emit)
}

// ProcessEncodedFor reports whether the DoFn can run with ProcessEncoded:
// its input's element coder is the Record coder and its outputs' are the
// Record and invalid coders, as the translation gives them.
func (fn *recordSinkFn) ProcessEncodedFor(in *coder.Coder, outs []*coder.Coder) bool {
	return isCustomCoder(in, recordType) && recordOutputs(outs)
}

// ProcessEncoded does what ProcessElement does for the record encoded at
// the front of data (by the Record coder, length-prefixed), at ts: it
// emits each record for the sink (output 0) and each rejected message
// (output 1) encoded as the SDK's coders encode them, and returns the
// number of bytes the input record took. Its byte slices alias data.
func (fn *recordSinkFn) ProcessEncoded(ts beam.EventTime, data []byte, emit func(out int, ts beam.EventTime, value []byte)) (n int, err error) {
	return fn.encodedRecord(ts, data, emit)
}

// recordOutputs reports whether outs are the element coders of a sink
// chain's outputs: Record, then invalid.
func recordOutputs(outs []*coder.Coder) bool {
	return len(outs) == 2 && isCustomCoder(outs[0], recordType) && isCustomCoder(outs[1], invalidType)
}

// record emits a sink's record as the Record coder writes it, at ts.
func (o *encodedOut) record(ts beam.EventTime, r kafka.Record) {
	b, err := kafka.AppendElement(o.buf[:0], &r)
	if err != nil {
		panic(&outputError{fmt.Errorf("encoding the record of a Kafka sink: %w", err)})
	}
	o.buf = b
	o.emit(0, ts, o.buf)
}

// sinkNext returns the Kafka sink that the chain ending at last may make
// records for: the one step after last, a Kafka sink reading last alone,
// in last's segment. Otherwise nil.
func (t *translator) sinkNext(last *dsl.Node) *dsl.Node {
	if last == nil || !chainable(last) {
		return nil
	}
	next := t.g.Node(last.Outputs()[0])
	if next.Kind() != dsl.KindSink || next.SinkKind() != dsl.SinkStream || len(next.Inputs()) != 1 || t.segment(next) > 0 {
		return nil
	}
	if _, ok := t.b.Sinks[next.Name()]; !ok {
		return nil
	}
	return next
}
