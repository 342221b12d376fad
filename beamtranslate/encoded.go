package beamtranslate

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/funcx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"

	"github.com/streams-dev/streams/internal/contract"
	"github.com/streams-dev/streams/io/kafka"
)

// The encoded fast path of the DoFns that key a chain's messages for a
// Reduce (recordKeyFn, keyStepFn), and of those that make a Kafka sink's
// records (recordSinkFn, sinkStepFn: sinkchain.go). A runner that understands it (the
// bundled runner, localrunner, whose interface these methods satisfy
// without this package importing it) runs a stage made of the DoFn alone
// between its data source and sinks without Beam's executor: it hands
// the DoFn each element's bytes as encoded by the SDK's coder of the
// input PCollection, and takes back each output's bytes, exactly those
// the SDK's coder of the output PCollection would write for the value
// ProcessElement emits. The DoFn decodes and encodes with the same
// functions as those coders, so the bytes are the same either way; what
// runs in between is the chain, exactly as ProcessElement runs it
// (steps, keying, rejects, metrics).
//
// An output the element coder cannot encode (a payload whose JSON
// encoding fails) behaves as on the SDK's path. There the emitter panics
// with the coder's error (register's emitters panic on their
// downstream's error, the DataSink's): inside a step's call the step
// takes it as that step's panic, so the message is rejected by the step;
// outside any (a chain with no steps) it fails the bundle. The encoding
// emitters below panic the same way, and ProcessEncoded returns a panic
// no step took as its error.

var (
	recordType  = reflect.TypeFor[kafka.Record]()
	elementType = reflect.TypeFor[element]()
	invalidType = reflect.TypeFor[invalid]()
)

// The DoFns of chains that key messages for a Reduce or a Batch run on the
// bundled runner's encoded fast path.
var (
	_ contract.EncodedDoFn = (*recordKeyFn)(nil)
	_ contract.EncodedDoFn = (*keyStepFn)(nil)
)

// ProcessEncodedFor reports whether the DoFn can run with ProcessEncoded:
// its input's element coder is the Record coder and its outputs' are
// KV<string, element> and invalid, the coders the translation gives them.
func (fn *recordKeyFn) ProcessEncodedFor(in *coder.Coder, outs []*coder.Coder) bool {
	return isCustomCoder(in, recordType) && keyedOutputs(outs)
}

// ProcessEncoded does what ProcessElement does for the record encoded at
// the front of data (by the Record coder, length-prefixed as Beam's
// custom coders are), at ts: it emits each keyed message (output 0) and
// each rejected one (output 1) encoded as the SDK's coders encode them,
// and returns the number of bytes the record took. The record's byte
// slices alias data, as the SDK's decoding lets them alias the bytes it
// read for the element.
func (fn *recordKeyFn) ProcessEncoded(ts beam.EventTime, data []byte, emit func(out int, ts beam.EventTime, value []byte)) (n int, err error) {
	return fn.encodedRecord(ts, data, emit)
}

// encodedRecord runs the chain, as its ProcessElement does, on the source
// record encoded at the front of data (by the Record coder,
// length-prefixed), at ts, with the encoding emitters, and returns the
// bytes the record took. The record's byte slices alias data.
func (c *chain) encodedRecord(ts beam.EventTime, data []byte, emit func(out int, ts beam.EventTime, value []byte)) (n int, err error) {
	b, n, err := encodedElement(data)
	if err != nil {
		return 0, c.inputError(err)
	}
	r, err := kafka.DecodeRecord(b)
	if err != nil {
		return 0, c.inputError(err)
	}
	c.startEncoded(ts, emit)
	defer c.endEncoded(&err)
	c.record(ts, r)
	return n, nil
}

// encodedMessage runs the chain, as its ProcessElement does, on the
// message encoded at the front of data (by the element coder,
// length-prefixed), at ts, with the encoding emitters, and returns the
// bytes the message took. Its byte slices alias data.
func (c *chain) encodedMessage(ts beam.EventTime, data []byte, emit func(out int, ts beam.EventTime, value []byte)) (n int, err error) {
	b, n, err := encodedElement(data)
	if err != nil {
		return 0, c.inputError(err)
	}
	e, err := decodeElement(b)
	if err != nil {
		return 0, c.inputError(err)
	}
	c.startEncoded(ts, emit)
	defer c.endEncoded(&err)
	c.message(ts, e)
	return n, nil
}

// ProcessEncodedFor reports whether the DoFn can run with ProcessEncoded:
// its input's element coder is the element coder and its outputs' are
// KV<string, element> and invalid, the coders the translation gives them.
func (fn *keyStepFn) ProcessEncodedFor(in *coder.Coder, outs []*coder.Coder) bool {
	return isCustomCoder(in, elementType) && keyedOutputs(outs)
}

// ProcessEncoded does what ProcessElement does for the message encoded at
// the front of data (by the element coder, length-prefixed as Beam's
// custom coders are), at ts: it emits each keyed message (output 0) and
// each rejected one (output 1) encoded as the SDK's coders encode them,
// and returns the number of bytes the message took. The message's byte
// slices alias data, as with the SDK's decoding.
func (fn *keyStepFn) ProcessEncoded(ts beam.EventTime, data []byte, emit func(out int, ts beam.EventTime, value []byte)) (n int, err error) {
	return fn.encodedMessage(ts, data, emit)
}

// FinishEncodedBundle ends a bundle run with ProcessEncoded (recordKeyFn,
// keyStepFn), as FinishBundle ends one run with ProcessElement: it adds
// the bundle's counts to the steps' metrics.
func (c *chain) FinishEncodedBundle() error {
	c.flush(context.Background()) // no Beam counters here: see beammetrics.go
	return nil
}

// isCustomCoder reports whether c is the custom coder registered for t:
// the coder whose functions the fast path calls, or writes what they
// write.
func isCustomCoder(c *coder.Coder, t reflect.Type) bool {
	if c == nil || c.Kind != coder.Custom || c.Custom == nil || c.Custom.Type != t {
		return false
	}
	reg := coder.LookupCustomCoder(t)
	return reg != nil && c.Custom.Name == reg.Name &&
		fnName(c.Custom.Enc) == fnName(reg.Enc) && fnName(c.Custom.Dec) == fnName(reg.Dec)
}

func fnName(f *funcx.Fn) string {
	if f == nil || f.Fn == nil {
		return ""
	}
	return f.Fn.Name()
}

// keyedOutputs reports whether outs are the element coders of a keying
// DoFn's outputs: KV<string, element>, then invalid.
func keyedOutputs(outs []*coder.Coder) bool {
	if len(outs) != 2 || outs[0] == nil || outs[0].Kind != coder.KV || len(outs[0].Components) != 2 {
		return false
	}
	k := outs[0].Components[0]
	return k != nil && k.Kind == coder.String &&
		isCustomCoder(outs[0].Components[1], elementType) && isCustomCoder(outs[1], invalidType)
}

var errShortEncoded = errors.New("truncated element: its length prefix runs past the data")

// encodedElement reads the element at the front of data as a custom
// coder writes it: the encoded value's length as a uvarint, then the
// value. It returns the value (capped, so that no decoder can append into
// the next element) and the bytes the element took.
func encodedElement(data []byte) ([]byte, int, error) {
	size, k := binary.Uvarint(data)
	if k <= 0 || size > uint64(len(data)-k) {
		return nil, 0, errShortEncoded
	}
	end := k + int(size)
	return data[k:end:end], end, nil
}

// encodedOut is the chain's state for ProcessEncoded: the emitters it
// gives the chain, made once, and the buffers they encode into, reused
// from one output to the next.
type encodedOut struct {
	reduce string
	// The call being processed: the runner's emitter and the input's
	// event time, that of the invalid output (an emitter without one).
	emit func(out int, ts beam.EventTime, value []byte)
	ts   beam.EventTime

	outKV     func(beam.EventTime, string, element) // o.kv
	outValue  func(beam.EventTime, string, element) // o.value (values.go)
	values    func(beam.EventTime, []byte, any)     // the runner's, for o.value
	plain     plainCache                            // o.value's
	key       []byte                                // a key's encoding
	outRecord func(beam.EventTime, kafka.Record)    // o.record
	bad       func(invalid)                         // o.invalid
	elem      []byte                                // an element's encoding
	buf       []byte                                // an output's encoding
}

// startEncoded sets the chain's emitters to the encoding ones, which call
// emit, for a message at ts.
func (c *chain) startEncoded(ts beam.EventTime, emit func(int, beam.EventTime, []byte)) {
	o := c.enc
	if o == nil {
		o = &encodedOut{reduce: c.keyingStep()}
		o.outKV, o.outRecord, o.bad = o.kv, o.record, o.invalid
		o.outValue = o.value
		c.enc = o
	}
	o.emit, o.ts = emit, ts
	c.outKV, c.bad = o.outKV, o.bad
	if c.values != nil {
		o.values = c.values
		c.outKV = o.outValue
	}
	if c.Sink != nil {
		c.Sink.out = o.outRecord
	}
}

// endEncoded ends ProcessEncoded's call, deferred: a panic no step took
// (the encoding emitter's, outside any step) becomes its error, as the
// SDK's executor makes a DoFn's panic the bundle's error.
func (c *chain) endEncoded(err *error) {
	c.enc.emit = nil
	r := recover()
	if r == nil {
		return
	}
	if e, ok := r.(*outputError); ok {
		*err = fmt.Errorf("beamtranslate: %s: %w", c.name(), e)
		return
	}
	*err = fmt.Errorf("beamtranslate: %s: panic: %v\n%s", c.name(), r, debug.Stack())
}

func (c *chain) inputError(err error) error {
	return fmt.Errorf("beamtranslate: %s: decode the input element: %w", c.name(), err)
}

// outputError is an output the fast path could not encode, the panic of
// its emitter.
type outputError struct{ err error }

func (e *outputError) Error() string { return e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

// kv emits a keyed message as the KV<string, element> coder writes it:
// the key (its length, then its bytes), then the element as the custom
// element coder writes it (its encoding's length, then the encoding).
func (o *encodedOut) kv(ts beam.EventTime, key string, e element) {
	b, err := appendElement(o.elem[:0], e)
	if err != nil {
		panic(&outputError{fmt.Errorf("encoding the keyed message of step %s: %w", o.reduce, err)})
	}
	o.elem = b
	o.buf = binary.AppendUvarint(o.buf[:0], uint64(len(key)))
	o.buf = append(o.buf, key...)
	o.buf = binary.AppendUvarint(o.buf, uint64(len(b)))
	o.buf = append(o.buf, b...)
	o.emit(0, ts, o.buf)
}

// invalid emits a rejected message as the custom invalid coder writes it,
// at the input's event time.
func (o *encodedOut) invalid(v invalid) {
	b, err := encodeInvalid(v)
	if err != nil {
		panic(&outputError{fmt.Errorf("encoding the message step %s rejected: %w", v.Step, err)})
	}
	o.buf = binary.AppendUvarint(o.buf[:0], uint64(len(b)))
	o.buf = append(o.buf, b...)
	o.emit(1, o.ts, o.buf)
}
