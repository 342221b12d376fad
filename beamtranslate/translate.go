// Package beamtranslate turns a DSL pipeline into an Apache Beam pipeline.
//
// # Translation
//
// Every DSL step becomes part of a Beam transform scoped by the step's
// name: the source a [kafka.Read], each chain of transform steps one
// ParDo (a chain ends where the pipeline branches and before a Batch or
// Reduce), each Kafka sink a [kafka.Write].
//
// A Reduce becomes a keying DoFn, WindowInto the step's windows (fixed,
// sliding or sessions), CombinePerKey with the step's accumulator, a DoFn
// that emits each key's result with the window's bounds at the window's
// end, and WindowInto the global window. A Batch becomes a keying DoFn
// (per source partition or per message key) and a stateful DoFn: a bag of
// messages and a processing-time timer.
//
// Where one feeds the next, the source's conversion of records into
// messages, a chain of steps and a Reduce's or a Batch's keying run in one
// ParDo, so that a message pays the SDK's per-DoFn cost once: its scope
// names every step it runs ("in+parse+valid+count"), and each step is
// still counted, timed and named in rejections as itself. The source has
// a DoFn of its own only before a sink or several steps, a Reduce or a
// Batch a keying DoFn of its own only after a Reduce or a Batch.
// A step that rejects a message sends it to a second output; the rejected
// messages of all steps are flattened and written to the source's
// dead-letter topic (with headers naming the step, the cause and the
// original topic, partition and offset). Without a dead-letter queue each
// step's policy applies: stop (the default) fails the bundle, and so the
// pipeline, with an error naming the step, the message's position and the
// cause; skip logs, counts and drops the message.
//
// # Functions travel by name
//
// A Go binary cannot ship closures to Beam workers. The DoFns here are a
// fixed set of registered structs that carry the pipeline id and the step
// name as exported fields; they find the step's function in a table that
// [Register] fills. A worker process runs the same main, which defines the
// same pipeline and registers it before beam.Init, so the table is the
// same there.
//
// This package is the only place that maps DSL steps to Beam transforms.
package beamtranslate

import (
	"fmt"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
)

// SourceBinding says where the source step reads.
type SourceBinding struct {
	Client      kafka.ClientConfig
	Topic       string
	Group       string
	StartOffset string // earliest, latest or error
	// StrictOffsetReset fails the read on a committed offset outside the
	// log instead of resetting it per StartOffset (kafka.ReadConfig).
	StrictOffsetReset bool
	// MaxSkew, IdleDelay and IdleWallClock tune the read's watermark
	// (kafka.ReadConfig); zero means the read's default.
	MaxSkew, IdleDelay time.Duration
	IdleWallClock      bool
	// ExactlyOnce reads with exactly-once delivery, and makes every Kafka
	// sink and the DLQ write in the read's transactions
	// (kafka.ReadConfig.ExactlyOnce, kafka.WriteConfig.Transactional).
	ExactlyOnce bool
	// DLQ, when set, receives every message a step rejects.
	DLQ *DLQBinding
}

// DLQBinding is a dead-letter topic.
type DLQBinding struct {
	Client kafka.ClientConfig
	Topic  string
	// MaxRecordBytes is the most the topic accepts (its max.message.bytes,
	// or the client's override); a larger dead-letter record is truncated
	// to fit, with headers saying so (HeaderDLQTruncated,
	// HeaderDLQOriginalSize). Zero: the producer's default, and no
	// truncation.
	MaxRecordBytes int32
}

// SinkBinding says where a Kafka sink step writes.
type SinkBinding struct {
	Client kafka.ClientConfig
	Topic  string
	// MaxRecordBytes is the most the topic accepts (its max.message.bytes,
	// or the client's override); a larger output is rejected as that
	// message's error (to the dead-letter queue, with the cause). Zero:
	// the producer's default, and no check.
	MaxRecordBytes int32
}

// Bindings are the deployment's answers for one pipeline: where its source
// and sinks are. The runner makes them from the deployment config.
type Bindings struct {
	Source SourceBinding
	Sinks  map[string]SinkBinding // by sink step name; Kafka sinks only
	// Components are the sinks the pipeline's steps may use; nil means
	// BuiltinSinks.
	Components []Sink
	// Values are the deployment config's values of the component sink
	// steps' keys, by step name (config.StepConfig.ValuesOf); a step not
	// named here has none, and writes as its code says.
	Values map[string]component.Values
	// Batches overrides Batch steps' bounds, by step name (the deployment
	// config's batch_size and batch_timedelta).
	Batches map[string]BatchBinding
	// Decoders set Parser and BatchParser steps' codec and JSON Schema,
	// by step name (the source's codec and schema_dir).
	Decoders map[string]DecoderBinding
	// Encoders set Serializer steps' codec, by step name (the codec of
	// the Kafka sink each feeds; EncoderBindings).
	Encoders map[string]EncoderBinding
	// SkipInvalid names the steps whose rejected messages are logged,
	// counted and dropped when the source has no DLQ. A message rejected
	// by any other step then fails the pipeline (the "stop" policy), so
	// nothing is committed past it.
	SkipInvalid []string
	// LateToDLQ names the Reduce steps whose late messages (arriving after
	// their window closed) go to the dead-letter queue, with the cause.
	// It needs Source.DLQ and a runner that hands a GroupByKey's dropped
	// elements to the pipeline (the bundled runner's
	// localrunner.LateDataAnnotation); on other runners late messages are
	// dropped and counted by the runner.
	LateToDLQ []string
	// Segments are the steps that start the pipeline's segments after the
	// first, in order: segment i+1 starts at Segments[i] (a deployment
	// config's starts_segment in pipeline.segments[i+1]). Such a step
	// starts a DoFn of its own, in a scope annotated with
	// contract.SegmentAnnotation.
	Segments []string
}

// DefaultID is the pipeline id used when none is given: a program that
// runs one pipeline needs no other.
const DefaultID = "default"

var graphs sync.Map // id -> *dsl.Graph

// Register makes g's step functions findable by the DoFns of pipelines
// translated with id. Translate calls it; a program must call it (or
// Translate) before beam.Init, so that worker processes, which stop in
// beam.Init, have the table too. Registering another graph under the same
// id replaces the first.
func Register(id string, g *dsl.Graph) {
	graphs.Store(id, g)
	for _, n := range g.Nodes() {
		registerPayloadType(n.InType())
		registerPayloadType(n.OutType())
		if r := n.Reducer(); r != nil {
			// Accumulators are coded like payloads.
			registerPayloadType(r.AccumulatorType())
		}
	}
}

func lookup(id, step string) (*dsl.Node, error) {
	v, ok := graphs.Load(id)
	if !ok {
		return nil, fmt.Errorf("beamtranslate: no pipeline %q is registered in this process; define the pipeline and call beamtranslate.Register before beam.Init", id)
	}
	n := v.(*dsl.Graph).Node(step)
	if n == nil {
		return nil, fmt.Errorf("beamtranslate: pipeline %q has no step %q", id, step)
	}
	return n, nil
}

// Translate builds the Beam pipeline for g with bindings b, registering g
// under id ("" means DefaultID).
func Translate(id string, g *dsl.Graph, b Bindings) (*beam.Pipeline, error) {
	if id == "" {
		id = DefaultID
	}
	Register(id, g)
	p, s := beam.NewPipelineWithRoot()
	t := &translator{id: id, g: g, b: b, s: s}
	if err := checkBindings(t.g, "decoder", t.b.Decoders); err != nil {
		return nil, err
	}
	if err := checkBindings(t.g, "encoder", t.b.Encoders); err != nil {
		return nil, err
	}
	if err := t.source(); err != nil {
		return nil, err
	}
	if err := t.invalids(); err != nil {
		return nil, err
	}
	return p, nil
}

type translator struct {
	id  string
	g   *dsl.Graph
	b   Bindings
	s   beam.Scope
	bad []beam.PCollection
}

func (t *translator) source() error {
	src := t.g.Source()
	sb := t.b.Source
	s := t.s.Scope(src.Name())
	recs, err := kafka.TryRead(s, kafka.ReadConfig{
		Client:            sb.Client,
		Topics:            []string{sb.Topic},
		Group:             sb.Group,
		StartOffset:       sb.StartOffset,
		StrictOffsetReset: sb.StrictOffsetReset,
		MaxSkew:           sb.MaxSkew,
		IdleDelay:         sb.IdleDelay,
		IdleWallClock:     sb.IdleWallClock,
		ExactlyOnce:       sb.ExactlyOnce,
	})
	if err != nil {
		return fmt.Errorf("beamtranslate: source %s: %w", src.Name(), err)
	}
	if outs := src.Outputs(); len(outs) == 1 {
		if n := t.g.Node(outs[0]); (fusible(n) || stateful(n) || t.sinkNext(src) == n) && t.segment(n) == 0 {
			// The chain's DoFn reads the records itself.
			return t.chain(src, n, recs)
		}
	}
	msgs := beam.ParDo(s, &fromRecordFn{Pipeline: t.id, Step: src.Name()}, recs)
	return t.children(src, msgs)
}

func (t *translator) children(n *dsl.Node, col beam.PCollection) error {
	for _, name := range n.Outputs() {
		if err := t.step(t.g.Node(name), col); err != nil {
			return err
		}
	}
	return nil
}

func (t *translator) step(n *dsl.Node, in beam.PCollection) error {
	switch n.Kind() {
	case dsl.KindSink:
		return t.componentSink(t.stepScope(n), n, in)
	case dsl.KindReduce:
		return t.reduce(n, in)
	case dsl.KindBatch:
		return t.batch(n, in)
	}
	return t.chain(nil, n, in)
}

// chain fuses the chain of steps that starts at n into one DoFn: every
// step still runs, rejects and is named as itself, but the SDK's per-DoFn
// cost (invocation, emitters, element copies) is paid once per chain.
// With src, the source, in holds its records, which the DoFn turns into
// messages as fromRecordFn would. When the chain's last step (or src)
// feeds a Reduce or a Batch, the DoFn also keys the messages for it, as
// reduceKeyFn or batchKeyFn would, and the step goes on from there (the
// Reduce's windowing, the Batch's stateful DoFn); n may then be that
// step, and the chain has no steps. The DoFn's scope names every step
// it runs: "in+parse+valid+count".
func (t *translator) chain(src, n *dsl.Node, in beam.PCollection) error {
	c := chain{Pipeline: t.id}
	last := src
	if src != nil {
		c.Source = src.Name()
	}
	if !stateful(n) && n.Kind() != dsl.KindSink {
		c.Steps = append(c.Steps, n.Name())
		for last = n; chainable(last); {
			next := t.g.Node(last.Outputs()[0])
			if !fusible(next) || len(next.Inputs()) != 1 || t.segment(next) > 0 {
				break
			}
			c.Steps = append(c.Steps, next.Name())
			last = next
		}
		if n.Kind() == dsl.KindBranch {
			if parent := t.g.Node(n.Inputs()[0]); parent.Kind() == dsl.KindRouter {
				c.Routed = true
			}
		}
	}
	c.Decoders, c.Encoders = bindingsOf(t.b.Decoders, c.Steps), bindingsOf(t.b.Encoders, c.Steps)
	var keyer *dsl.Node // a Reduce or Batch the DoFn keys its outputs for
	if chainable(last) {
		if next := t.g.Node(last.Outputs()[0]); stateful(next) && len(next.Inputs()) == 1 && t.segment(next) == 0 {
			keyer = next
			if next.Kind() == dsl.KindReduce {
				c.Reduce, c.KeepOrigin = next.Name(), t.lateToDLQ(next)
			} else {
				c.Batch, c.BatchPerKey = next.Name(), next.Batcher().PerKey()
			}
		}
	}
	sink := t.sinkNext(last)
	if keyer == nil && sink != nil {
		sb := t.b.Sinks[sink.Name()]
		c.Sink = &recordSink{Step: sink.Name(), Topic: sb.Topic, MaxBytes: sb.MaxRecordBytes}
	}
	var fn any
	switch {
	case c.Sink != nil && src == nil:
		fn = &sinkStepFn{c}
	case c.Sink != nil:
		fn = &recordSinkFn{c}
	case src == nil && keyer == nil:
		fn = &stepFn{c}
	case src == nil:
		fn = &keyStepFn{c}
	case keyer == nil:
		fn = &recordStepFn{c}
	default:
		fn = &recordKeyFn{c}
	}
	head := n
	if src != nil {
		head = nil // the source's segment
	}
	out, bad := beam.ParDo2(t.keyingScope(t.s, keyer, c.name(), head), fn, in)
	t.bad = append(t.bad, bad)
	switch {
	case c.Sink != nil:
		// The chain made the sink's records (sinkchain.go): only the
		// write is left.
		return writeKafka(t.sinkContext(), t.stepScope(sink), sink, out)
	case keyer == nil:
		return t.children(last, out)
	case keyer.Kind() == dsl.KindReduce:
		return t.reduceKeyed(t.stepScope(keyer), keyer, out)
	}
	return t.batchKeyed(t.stepScope(keyer), keyer, out)
}

// fusible reports whether n may run in the DoFn of the step before it: it
// is a transform step, and not a branch's root (which starts a DoFn of
// its own).
func fusible(n *dsl.Node) bool {
	switch n.Kind() {
	case dsl.KindSink, dsl.KindBranch:
		return false
	}
	return !stateful(n)
}

// chainable reports whether the step after n may run in n's DoFn: n feeds
// exactly one step, and n does not fan out (a router's and a broadcast's
// outputs are branches).
func chainable(n *dsl.Node) bool {
	return len(n.Outputs()) == 1 && n.Kind() != dsl.KindRouter && n.Kind() != dsl.KindBroadcast
}

// stateful reports whether n groups messages (by key, window or batch),
// which ends a fused chain: it needs a shuffle and state.
func stateful(n *dsl.Node) bool {
	return n.Kind() == dsl.KindReduce || n.Kind() == dsl.KindBatch
}

// invalids sends every rejected message to the dead-letter topic, or logs
// and counts it.
func (t *translator) invalids() error {
	if len(t.bad) == 0 {
		return nil
	}
	s := t.s.Scope("invalid-messages")
	all := t.bad[0]
	if len(t.bad) > 1 {
		all = beam.Flatten(s, t.bad...)
	}
	dlq := t.b.Source.DLQ
	if dlq == nil {
		beam.ParDo0(s, &noDLQFn{Pipeline: t.id, Skip: t.b.SkipInvalid}, all)
		return nil
	}
	recs := beam.ParDo(s, &dlqRecordFn{Pipeline: t.id, MaxBytes: dlq.MaxRecordBytes}, all)
	wc := kafka.WriteConfig{Client: dlq.Client, Topic: dlq.Topic, MaxRecordBytes: dlq.MaxRecordBytes, Label: "dead-letter queue of source step " + t.g.Source().Name(), Transactional: t.b.Source.ExactlyOnce}
	if err := kafka.TryWrite(s, wc, recs); err != nil {
		return fmt.Errorf("beamtranslate: dead-letter queue: %w", err)
	}
	return nil
}
