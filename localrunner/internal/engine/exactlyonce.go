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
// A durable run (a state directory, changelogs on) may keep state in
// steps kept per partition task: each cut is then a checkpoint whose
// changelog records commit in the transaction (cuts.go). Steps that keep
// state otherwise (shared by the process, or behind a shuffle) are
// refused, as is state without a changelog (in memory, or on the local
// disk only): the offsets would commit past state that a crash loses.

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
		if s.src != nil && s.src != src {
			return fmt.Errorf("localrunner: exactly-once delivery with more than one Kafka read is not supported (%v)", s.spec.Kafka.Config.Topics)
		}
		reason := statefulReason(s.spec)
		if reason == "" {
			continue
		}
		switch {
		case !e.durable || e.cfg.Changelog.Disabled:
			return fmt.Errorf("localrunner: exactly-once delivery needs durable state with changelogs for steps that keep state, and %v %s: give the run a state directory and keep changelogs on", s.spec.Names, reason)
		case s.spec.Kind == plan.KindShuffleWrite || s.spec.Splittable || e.taskOf[s.spec.ID] == "":
			return fmt.Errorf("localrunner: exactly-once delivery is not supported yet for state outside the partition tasks, and %v %s (its state does not follow the source's partitions); key the step by the record key, or use at-least-once delivery", s.spec.Names, reason)
		}
	}
	e.txnSrc, e.syncCuts = src, e.durable
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
