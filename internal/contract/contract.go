// Package contract holds what the DSL's translation (beamtranslate) and
// the bundled runner (localrunner) agree on without importing each other:
// localrunner runs any Beam pipeline and must not know the DSL, and
// beamtranslate must not depend on the runner that happens to run it.
// Each side imports this leaf instead, so the agreement is one
// declaration that the compiler checks on both sides, and the layering
// test (internal/lint) sees both arrows.
//
// It holds four annotation URNs, the naming of steps' scopes, and four
// interfaces that DoFns and CombineFns may implement. A runner that knows
// none of them runs the same pipeline the ordinary way: they are
// optimisations and runner hand-offs, never requirements.
package contract

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
)

// LateDataAnnotation marks a composite whose first transform reads the
// input of a GroupByKey to receive, instead of that input, the elements the
// GroupByKey drops: late beyond the allowed lateness, or after their pane's
// trigger finished. The bundled runner feeds them to it as they are
// dropped, with their windows and timestamps, and counts its processing
// towards their sources' acknowledgement, as any output's. On other
// runners the composite reads the whole input (it should then emit
// nothing: no runner reports what it drops).
//
// In the Go SDK, a composite gets the annotation from a context extractor
// (contextreg.Default().TransformExtractor) and beam.Scope.WithContext.
const LateDataAnnotation = "streams.dev/late-data:v1"

// PartitionKeyedAnnotation marks a composite whose GroupByKeys and
// stateful ParDos group by a key that follows the partitioning of the
// Kafka source feeding them: every element of a key derives from records
// of one source partition. The bundled runner then keeps their buffers,
// state, timers and event time per source partition (a task), so they
// move with the partition between processes. Other runners ignore it.
const PartitionKeyedAnnotation = "streams.dev/partition-keyed:v1"

// EventTimeAnnotation marks a composite holding one ParDo that gives its
// main output (its first) event times of its own, taken from the payload
// rather than the Kafka record timestamps its input carries. The
// annotation's value is the skew the watermark allows for, in
// milliseconds (decimal text). The bundled runner then derives the
// watermark after that ParDo from the event times it emits (the newest
// minus the skew, per partition task), as Kafka Streams' timestamp
// extractor does, instead of from the record timestamps. Other runners
// ignore it.
const EventTimeAnnotation = "streams.dev/event-time:v1"

// SegmentAnnotation marks the composite of a step that starts a segment
// of the pipeline: a separately deployable part, joined to the part
// before it by an internal topic. Its value is the segment's index
// (decimal text; segments count from 0, the source's). The bundled runner
// routes what flows into the composite through the internal topic and,
// given a segment to run, runs that segment's stages only. Other runners
// ignore it (they run the pipeline whole).
const SegmentAnnotation = "streams.dev/segment:v1"

// StepSeparator joins the names of the steps a scope runs. The DSL's
// translation names the scope of a step after the step ("parse"), and
// the scope of a chain of steps that run in one DoFn after all of them,
// joined by StepSeparator ("in+parse+count"); step names never contain
// it, nor '/'. So the first segment of a transform's unique name, split
// at StepSeparator, names the steps it belongs to. The bundled runner
// finds a step's stages that way (localrunner.WithStepParallelism).
const StepSeparator = "+"

// EncodedDoFn is implemented by DoFns that can process elements in their
// encoded form. For a stage that is one such DoFn's ParDo between the
// stage's input and its outputs (perhaps each through a WindowInto), the
// bundled runner skips the SDK's executor: it hands the DoFn each encoded
// element and writes what the DoFn emits, already encoded, as windowed
// values. That saves decoding the input into Go values, boxing each
// output, and encoding it again.
//
// The DoFn promises to behave as its ProcessElement would under the SDK,
// byte for byte. Its ProcessElement must not observe windows or panes
// (outputs keep the input's), and it must have no StartBundle, side
// inputs, state or timers. Setup and Teardown run as the SDK runs them;
// FinishEncodedBundle replaces FinishBundle.
type EncodedDoFn interface {
	// ProcessEncodedFor reports whether the DoFn can run with
	// ProcessEncoded when its main input's element coder is in and its
	// outputs' element coders are outs (in the order of ProcessElement's
	// emitters). It is called once per DoFn instance, before Setup.
	ProcessEncodedFor(in *coder.Coder, outs []*coder.Coder) bool
	// ProcessEncoded does what ProcessElement does for the element at the
	// front of data, encoded with the input's element coder (more elements
	// may follow it), whose event time is ts. For each output element it
	// calls emit with the output's index, the output's event time and the
	// element encoded with that output's coder; emit reads value only
	// during the call. It returns how many bytes of data the element took.
	// An error fails the bundle. The runner never changes data, so what
	// the DoFn decodes from it may alias it, as the SDK's decoders alias
	// the bytes they read.
	ProcessEncoded(ts typex.EventTime, data []byte, emit func(out int, ts typex.EventTime, value []byte)) (int, error)
	// FinishEncodedBundle ends a bundle run with ProcessEncoded.
	FinishEncodedBundle() error
}

// EncodedCombineFn is implemented by CombineFns that add inputs to an
// accumulator from their encoding, sparing the runner decoding each input
// into a Go value for AddInput.
type EncodedCombineFn interface {
	// AddEncodedInputFor reports whether AddEncodedInput reads inputs
	// encoded with coder in.
	AddEncodedInputFor(in *coder.Coder) bool
	// AddEncodedInput does what AddInput does, for the input value
	// encoded in value (the bytes exec.MakeElementEncoder(in) writes; it
	// must not keep them).
	AddEncodedInput(acc any, value []byte) (any, error)
}

// ValueDoFn is implemented by EncodedDoFns that can hand an output's KVs
// to the runner as Go values instead of encoding them: for a runner that
// adds each of them at once to an accumulator of a CombineFn that takes
// values (ValueCombineFn), so that nothing encodes the value only for the
// combine to decode it again.
type ValueDoFn interface {
	EncodedDoFn
	// EmitValues asks that, from now on, the KVs of output out go to emit
	// instead of ProcessEncoded's emit: key as the output's key coder
	// encodes it (emit reads it only during the call), value the Go value
	// the KV holds, which the runner keeps. It reports false, and changes
	// nothing, when the DoFn cannot (the output is not a KV it keys).
	// The DoFn may still encode some KVs and give them to ProcessEncoded's
	// emit: those whose encoding could fail, which deferring would blame
	// on another step. Called after Setup, before the first bundle.
	EmitValues(out int, emit func(ts typex.EventTime, key []byte, value any)) bool
	// AppendValue appends to dst the encoding of a value the DoFn handed
	// to output out's emit, as the output's value coder writes it, for a
	// runner that must write the KV after all (a checkpoint, a late
	// element). It is safe for concurrent use and does not change value.
	AppendValue(out int, dst []byte, value any) ([]byte, error)
}

// ValueCombineFn is implemented by CombineFns that add inputs to an
// accumulator as the Go values a ValueDoFn hands over.
type ValueCombineFn interface {
	// AddValueInput does what AddInput does, for a value a ValueDoFn
	// handed to a runner. It must not keep value's byte slices: they may
	// alias the runner's buffers.
	AddValueInput(acc any, value any) (any, error)
}
