package engine

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/streams-dev/streams/localrunner/internal/worker"
)

// fin is a bundle awaiting finalization.
type fin struct {
	stage  *stageState
	bundle string
	plan   worker.Plan
	refs   int
	// held counts the references that are windows of a GroupByKey holding
	// elements derived from the bundle (included in refs).
	held int
	// ack, set for a batch of a Kafka source, replaces plan.Finalize; free
	// is called once, when every reference left is held by windows (the
	// batch no longer occupies queues, only window buffers).
	ack, free func()
	// epoch is the number of checkpoints a durable run had written when
	// the source handed the batch on: it is acknowledged only once a later
	// checkpoint holds everything derived from it.
	epoch int
}

type finalizeDone struct {
	f   *fin
	err error
	ok  bool // the plan may be reused
}

func (e *engine) release(f *fin) {
	f.refs--
	switch {
	case f.refs == 0:
		e.finalize(f)
	case f.refs == f.held:
		f.uncount()
	}
}

// uncount tells a Kafka batch's source, once, that the batch no longer
// occupies queues (see Batch.Release).
func (f *fin) uncount() {
	if f.free != nil {
		f.free()
		f.free = nil
	}
}

func (e *engine) finalize(f *fin) {
	if f.ack != nil {
		if e.durable && f.epoch >= e.epoch {
			// Processed, but what it left in windows, state and timers is
			// saved only by the next checkpoint, which acknowledges it.
			e.unsaved = append(e.unsaved, f)
			f.uncount()
			return
		}
		// Everything derived from a source batch is processed, even if
		// the run is stopping now: acknowledging it is correct.
		f.ack()
		return
	}
	delete(e.awaiting, f)
	if e.stopping {
		f.stage.pool.put(f.plan)
		return
	}
	e.finalizing++
	e.workers.run(func() {
		done := finalizeDone{f: f, ok: true}
		func() {
			defer func() {
				if r := recover(); r != nil {
					done.err = fmt.Errorf("localrunner: bundle finalization callback panicked: %v\n%s", r, debug.Stack())
					done.ok = false
				}
			}()
			done.err = f.plan.Finalize()
		}()
		e.finalized <- done
	})
}

func (e *engine) onFinalized(d finalizeDone) {
	e.finalizing--
	s := d.f.stage
	if d.ok {
		s.pool.put(d.f.plan)
	} else {
		_ = d.f.plan.Down(context.Background())
	}
	if d.err != nil {
		// Finalization is best effort in Beam: a failed callback does not
		// fail the pipeline (the source redelivers what it did not commit).
		e.log.Warn("localrunner: bundle finalization failed", "stage", s.spec.ID, "bundle", d.f.bundle, "error", d.err)
	}
	if h := e.cfg.Hooks.Finalized; h != nil {
		h(FinalizeEvent{Stage: s.spec.ID, Bundle: d.f.bundle, Err: d.err})
	}
}
