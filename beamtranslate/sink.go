package beamtranslate

import (
	"fmt"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/dsl"
)

// Sink is a sink component: a kind of sink step, in one value. Its Spec
// is its deployment config (kind, keys, docs, checks; package config
// decodes and checks them); Kind is the DSL sink kind of its steps;
// Translate turns such a step into Beam transforms. A program lists the
// sinks it runs once (runner.Components) and hands them to config
// ([config.WithComponents] with their specs) and to Translate
// ([Bindings].Components).
type Sink struct {
	Spec component.Spec
	// Kind is the DSL sink kind of the component's steps.
	Kind dsl.SinkKind
	// PartitionKeyed says the sink's state follows the source's
	// partitioning (it keys its input by source partition): the bundled
	// runner keeps that state with the partition's task.
	PartitionKeyed bool
	// Stateful says the sink uses Beam state, which prism's splitting of
	// bundles can corrupt (see [Experiments]).
	Stateful bool
	// Check reports what is wrong with a step's settings that only the
	// component can tell (a bucket without a driver): the runner calls it
	// with the step and its config's values before anything starts. Nil:
	// nothing can be.
	Check func(n *dsl.Node, v component.Values) error
	// Translate adds the transforms of sink step n, whose deployment
	// config has the values v, to s, reading in (a PCollection of the
	// pipeline's messages).
	Translate func(c SinkContext, s beam.Scope, n *dsl.Node, v component.Values, in beam.PCollection) error
}

// SinkContext is what a sink's Translate knows of the pipeline.
type SinkContext struct {
	// Pipeline is the id the pipeline is translated under; DoFns report
	// to observe.Lookup(Pipeline).
	Pipeline string
	// Graph is the pipeline.
	Graph *dsl.Graph
	// Bindings are the deployment's (where the source and the Kafka
	// sinks are, exactly-once).
	Bindings Bindings

	// reject sends a PCollection of rejected messages (invalid) where
	// every step's go: the dead-letter queue, or the step's policy.
	reject func(bad beam.PCollection)
}

// BuiltinSinks returns the sink components this package implements: the
// Kafka, devnull and blob sinks.
func BuiltinSinks() []Sink { return []Sink{Kafka, DevNull, Blob} }

// findSink returns the sink of kind k among sinks.
func findSink(sinks []Sink, k dsl.SinkKind) (Sink, bool) {
	i := slices.IndexFunc(sinks, func(s Sink) bool { return s.Kind == k })
	if i < 0 {
		return Sink{}, false
	}
	return sinks[i], true
}

// sinkOf returns the component of sink step n, if it has one.
func (t *translator) sinkOf(n *dsl.Node) (Sink, bool) {
	if n.Kind() != dsl.KindSink {
		return Sink{}, false
	}
	sinks := t.b.Components
	if sinks == nil {
		sinks = BuiltinSinks()
	}
	return findSink(sinks, n.SinkKind())
}

// componentSink translates sink step n by its component.
func (t *translator) componentSink(s beam.Scope, n *dsl.Node, in beam.PCollection) error {
	c, ok := t.sinkOf(n)
	if !ok {
		return fmt.Errorf("beamtranslate: sink %s: unknown sink kind %v", n.Name(), n.SinkKind())
	}
	return c.Translate(t.sinkContext(), s, n, t.b.Values[n.Name()], in)
}

func (t *translator) sinkContext() SinkContext {
	return SinkContext{Pipeline: t.id, Graph: t.g, Bindings: t.b,
		reject: func(bad beam.PCollection) { t.bad = append(t.bad, bad) }}
}
