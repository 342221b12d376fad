package engine

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/userstate"
	"github.com/streams-dev/streams/localrunner/internal/worker"
)

func (e *engine) refreshWatermarks() {
	for _, s := range e.stages {
		w := mtime.MaxTimestamp
		switch s.spec.Kind {
		case plan.KindKafka:
			w = s.srcWM
		case plan.KindTestStream:
			w = s.testWM
		}
		switch s.spec.Kind {
		case plan.KindSDK, plan.KindGroup, plan.KindShuffleWrite, plan.KindKafkaWrite:
			for _, p := range s.spec.Upstream {
				if u, ok := e.upstream(s, p); ok {
					w = min(w, u)
				}
			}
			s.in = w
			w = min(w, s.grpHold) // MaxTimestamp but for group stages
			if s.timers != nil {
				w = min(w, s.timers.Hold())
			}
			for _, b := range s.queue {
				w = min(w, b.hold)
			}
			for _, fl := range s.inflight {
				w = min(w, fl.hold)
			}
			if s.spec.EventTime != nil {
				w = e.eventTimeWatermark(s) // holds are in the input's time
			}
			for _, p := range e.parked {
				if p.stage == s {
					w = min(w, p.res.Watermark)
				}
			}
			// A stateful stage drops the state of the windows that expired
			// at w: not at the input watermark but at w, which the queued
			// and in-flight elements also hold (a backlog behind an input
			// watermark past its windows still needs their state), and the
			// live timers (an event-time timer holds w at its fire time at
			// the latest, even without an output timestamp), so a window's
			// state outlives its elements and timers, in flight or not.
			if m, ok := s.store.(*userstate.Memory); ok {
				if n := m.Expire(w); n > 0 {
					e.log.Debug("localrunner: user state of expired windows dropped", "stage", s.spec.ID, "cells", n, "watermark", w)
				}
			}
		}
		if w > s.out {
			s.out = w
			if h := e.cfg.Hooks.WatermarkAdvanced; h != nil && s.task == nil {
				h(WatermarkEvent{Stage: s.spec.ID, Transforms: s.spec.Names, Watermark: w})
			}
		}
	}
	e.reportTaskWatermarks()
}

// eventTimeWatermark is the output watermark of a stage that gives
// elements event times of its own (plan.EventTime): the newest it wrote
// minus the skew; the end of time once its input ended and nothing waits;
// and, when its Kafka source's idle partitions follow the wall clock
// (IdleWallClock), at least now minus the skew once its input is idle
// (the stage's task's partition, or every partition of the source) and
// nothing waits.
func (e *engine) eventTimeWatermark(s *stageState) mtime.Time {
	waiting := s.queued > 0 || len(s.inflight) > 0
	if s.in == mtime.MaxTimestamp && !waiting {
		return mtime.MaxTimestamp
	}
	w := s.genWM
	if src := s.feed; !waiting && src != nil && src.spec.Kafka.Config.IdleWallClock && inputIdle(s, src) {
		w = max(w, mtime.FromTime(e.now().Add(-s.spec.EventTime.Skew)))
	}
	return w
}

// feedingSource returns the Kafka stage feeding stage spec, following the
// first upstream PCollection; nil when there is none.
func (e *engine) feedingSource(spec *plan.Stage) *stageState {
	for len(spec.Upstream) > 0 {
		u := e.cfg.Plan.Stage(e.cfg.Plan.Producers[spec.Upstream[0]])
		if u == nil {
			return nil
		}
		if u.Kind == plan.KindKafka {
			return e.byID[u.ID]
		}
		spec = u
	}
	return nil
}

// inputIdle reports whether the partitions feeding s are idle: its
// task's, or every assigned partition of src.
func inputIdle(s, src *stageState) bool {
	if s.task != nil {
		return s.task.idle()
	}
	if len(src.partIdle) == 0 {
		return false
	}
	for _, idle := range src.partIdle {
		if !idle {
			return false
		}
	}
	return true
}

// noteEventTimes advances the event-time watermark of a stage that gives
// elements event times of its own from the outputs of one bundle.
func (s *stageState) noteEventTimes(outs map[string]*worker.Output) {
	et := s.spec.EventTime
	for _, p := range et.Outputs {
		if o := outs[p]; o != nil && o.Len() > 0 {
			s.genWM = max(s.genWM, mtime.FromTime(o.MaxTS.ToTime().Add(-et.Skew)))
		}
	}
}

// reportTaskWatermarks reports the watermark of each stage kept per task
// as the minimum over its tasks' copies, when that advanced (kept in the
// stage's template).
func (e *engine) reportTaskWatermarks() {
	h := e.cfg.Hooks.WatermarkAdvanced
	if h == nil || len(e.taskList) == 0 {
		return
	}
	for _, s := range e.specs {
		if _, ok := e.taskOf[s.spec.ID]; !ok {
			continue
		}
		w := mtime.MaxTimestamp
		for _, t := range e.taskList {
			if c := t.stages[s.spec.ID]; c != nil {
				w = min(w, c.out)
			}
		}
		if w > s.out && w < mtime.MaxTimestamp {
			s.out = w
			h(WatermarkEvent{Stage: s.spec.ID, Transforms: s.spec.Names, Watermark: w})
		}
	}
}
