package engine

import (
	"container/heap"
	"fmt"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/worker"
)

func (e *engine) onResult(r *worker.Result) {
	e.running--
	s := e.bundleStage[r.Bundle.ID]
	delete(e.bundleStage, r.Bundle.ID)
	fl := s.inflight[r.Bundle.ID]
	delete(s.inflight, r.Bundle.ID)
	switch {
	case s.lanes == nil:
	case fl.lane < 0:
		for i := range s.lanes {
			s.lanes[i].busy = false
		}
	default:
		s.lanes[fl.lane].busy = false
	}
	ev := BundleEvent{Stage: s.spec.ID, Transforms: s.spec.Names, Bundle: r.Bundle.ID, Elements: fl.elements, Timers: fl.timers, Elapsed: r.Elapsed, Err: r.Err}
	s.inlineStats.note(fl.elements, r.Elapsed)
	if r.Err != nil {
		if !e.stopping {
			e.log.Error("localrunner: bundle failed", "stage", s.spec.ID, "bundle", r.Bundle.ID, "error", r.Err)
			e.fail(r.Err)
		}
		e.hookBundle(ev)
		return
	}
	if e.stopping {
		// Cancelled or failed elsewhere: nothing is handed on or finalized.
		s.pool.put(r.Plan)
		e.hookBundle(ev)
		return
	}
	e.active = true
	if s.store != nil {
		// The bundle's state and timer changes become visible to the next
		// bundle, all at once.
		err := s.store.Commit(r.Bundle.State)
		for _, tw := range r.Timers {
			if err != nil {
				break
			}
			if s.timers == nil {
				err = fmt.Errorf("a timer written by %s, which declares no timer families", tw.Transform)
				break
			}
			err = s.timers.Set(tw.Transform, tw.Family, tw.Data)
		}
		if err != nil {
			err = fmt.Errorf("localrunner: committing the state of bundle %s of %s: %w", r.Bundle.ID, s.spec.ID, err)
			e.log.Error("localrunner: state commit failed", "stage", s.spec.ID, "bundle", r.Bundle.ID, "error", err)
			s.pool.put(r.Plan)
			e.fail(err)
			ev.Err = err
			e.hookBundle(ev)
			return
		}
	}
	e.metrics.add(r.Metrics)
	e.log.Debug("localrunner: bundle done", "stage", s.spec.ID, "bundle", r.Bundle.ID, "elements", fl.elements, "timers", fl.timers, "timers_set", len(r.Timers), "residuals", len(r.Residuals), "elapsed", r.Elapsed)

	var fins []*fin
	seen := map[*fin]bool{}
	for _, p := range fl.pieces {
		for _, f := range p.fins {
			if !seen[f] {
				seen[f] = true
				fins = append(fins, f)
			}
		}
	}
	var own *fin
	if r.Finalize {
		own = &fin{stage: s, bundle: r.Bundle.ID, plan: r.Plan}
		e.awaiting[own] = true
		fins = append(fins, own)
	} else {
		s.pool.put(r.Plan)
	}

	if s.spec.EventTime != nil {
		s.noteEventTimes(r.Outputs)
	}
	pcols := make([]string, 0, len(r.Outputs))
	for p := range r.Outputs {
		pcols = append(pcols, p)
	}
	sort.Strings(pcols)
	for _, p := range pcols {
		out := r.Outputs[p]
		if out.Len() == 0 {
			continue
		}
		ev.Outputs += out.Len()
		e.deliverBatch(p, s.task, batch{data: out.Data, ends: out.Ends, hold: out.MinTS, fins: fins, vals: out.Values, enc: out.Encode})
	}
	now := time.Now()
	for _, rs := range r.Residuals {
		ev.Residuals = append(ev.Residuals, ResidualEvent{Delay: rs.Delay, Watermark: rs.Watermark, Reported: rs.Reported})
		if e.draining {
			continue // a drain stops SDFs where they are
		}
		if rs.Delay <= 0 {
			s.enqueue(residualBatch(rs))
			continue
		}
		heap.Push(&e.parked, &parked{due: now.Add(rs.Delay), stage: s, res: rs})
	}
	for _, p := range fl.pieces {
		for _, f := range p.fins {
			e.release(f)
		}
	}
	if own != nil && own.refs == 0 {
		e.finalize(own)
	}
	e.hookBundle(ev)
}

// deliver queues elements written to PCollection p (by a stage of task t,
// or nil) at every stage reading it, each batch holding a finalization
// reference to each of fins, and keeps them for the side inputs p feeds.
func (e *engine) deliver(p string, t *task, data []byte, ends []int, minTS mtime.Time, fins []*fin) {
	e.deliverBatch(p, t, batch{data: data, ends: ends, hold: minTS, fins: fins})
}

// deliverBatch is deliver of the elements in b, which may have values
// (batch.vals: only a GroupByKey reads those).
func (e *engine) deliverBatch(p string, t *task, b batch) {
	for _, cid := range e.cfg.Plan.Consumers[p] {
		s := e.consumer(cid, t)
		if len(b.vals) > 0 && s.spec.Kind != plan.KindGroup {
			// The plan marks an output for values only when a GroupByKey
			// alone reads it: anything else would ignore them.
			e.fail(fmt.Errorf("localrunner: internal error: values delivered to %s, which does not group", s.spec.ID))
			return
		}
		q := b
		if n := s.enqueue(&q); n > 0 {
			e.droppedLate(s, n)
		}
		for _, f := range b.fins {
			f.refs++
		}
	}
	if chunks, ok := e.sideStores[p]; ok {
		e.sideStores[p] = append(chunks, worker.Chunk{Data: b.data, Ends: b.ends})
	}
}
