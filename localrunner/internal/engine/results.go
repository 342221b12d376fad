package engine

import (
	"container/heap"
	"fmt"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
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
		if len(out.Ends) == 0 {
			continue
		}
		ev.Outputs += len(out.Ends)
		e.deliver(p, s.task, out.Data, out.Ends, out.MinTS, fins)
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
	for _, cid := range e.cfg.Plan.Consumers[p] {
		s := e.consumer(cid, t)
		if n := s.enqueue(&batch{data: data, ends: ends, hold: minTS, fins: fins}); n > 0 {
			e.droppedLate(s, n)
		}
		for _, f := range fins {
			f.refs++
		}
	}
	if chunks, ok := e.sideStores[p]; ok {
		e.sideStores[p] = append(chunks, worker.Chunk{Data: data, Ends: ends})
	}
}
