package engine

import (
	"context"
	"fmt"

	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner/internal/kafkasource"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// Exactly-once delivery (kafka.ReadConfig.ExactlyOnce): the Kafka source
// is a transactional member of its group (kafkasource/txn.go) and lends
// its producer to the pipeline's transactional writes, through the
// context of every bundle. A transaction ends only when every batch the
// source handed on is acknowledged, so its outputs are exactly those of
// the offsets it commits.
//
// Built so far for pipelines of one Kafka read and stateless steps; a
// step that keeps state (a GroupByKey, a stateful DoFn, a shuffle) would
// need its state in the transaction too (its changelog), and is refused.

// initExactlyOnce checks a plan whose read asks for exactly-once delivery
// and keeps the source that lends its producer.
func (e *engine) initExactlyOnce() error {
	var src *kafkasource.Source
	for _, s := range e.specs {
		if s.src == nil || !s.src.ExactlyOnce() {
			continue
		}
		if src != nil {
			return fmt.Errorf("localrunner: exactly-once delivery with more than one Kafka read is not supported (%v)", s.spec.Kafka.Config.Topics)
		}
		src = s.src
	}
	if src == nil {
		return nil
	}
	for _, s := range e.specs {
		if reason := statefulReason(s.spec); reason != "" {
			return fmt.Errorf("localrunner: exactly-once delivery is not supported yet for steps that keep state, and %v %s; use at-least-once delivery for this pipeline", s.spec.Names, reason)
		}
		if s.src != nil && s.src != src {
			return fmt.Errorf("localrunner: exactly-once delivery with more than one Kafka read is not supported (%v)", s.spec.Kafka.Config.Topics)
		}
	}
	if e.cfg.State != nil {
		return fmt.Errorf("localrunner: exactly-once delivery with durable state (a state directory) is not supported yet")
	}
	e.txnSrc = src
	return nil
}

// statefulReason says how a stage keeps state, or is empty.
func statefulReason(s *plan.Stage) string {
	switch {
	case s.Kind == plan.KindGroup:
		return "groups by key (a window or a reduce)"
	case s.Kind == plan.KindShuffleWrite:
		return "shuffles its input through Kafka"
	case s.Stateful:
		return "keeps user state or timers"
	case s.Splittable:
		return "is a splittable read"
	}
	return ""
}

// lendProducer returns ctx lending the source's transactional producer
// to the pipeline's writes, when there is one.
func (e *engine) lendProducer(ctx context.Context) context.Context {
	if e.txnSrc == nil {
		return ctx
	}
	return kafka.WithProducer(ctx, e.txnSrc)
}
