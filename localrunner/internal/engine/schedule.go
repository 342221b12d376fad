package engine

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/userstate"
	"github.com/streams-dev/streams/localrunner/internal/worker"
)

// fireImpulses delivers the one element each Impulse emits: an empty
// []byte (bytes coder: a zero length) at the minimum timestamp in the
// global window, not fired by a trigger.
func (e *engine) fireImpulses() error {
	data, ends, minTS, err := globalWindowed([]plan.TestStreamElement{{Encoded: []byte{0}, EventTime: mtime.MinTimestamp}})
	if err != nil {
		return fmt.Errorf("localrunner: encoding the impulse: %w", err)
	}
	for _, s := range e.stages {
		if s.spec.Kind != plan.KindImpulse {
			continue
		}
		for _, p := range s.spec.Outputs {
			e.deliver(p, nil, data, ends, minTS, nil)
		}
	}
	return nil
}

// sidesReady reports whether a stage's side inputs are complete: every
// stage producing them has an output watermark at the end of time (the
// planner refuses windowed side inputs from unbounded PCollections, which
// would need serving window by window). The first time, it indexes them
// for the stage's bundles.
func (e *engine) sidesReady(s *stageState) bool {
	if len(s.spec.SideInputs) == 0 || s.sides != nil {
		return true
	}
	for _, si := range s.spec.SideInputs {
		for _, src := range si.Sources {
			if p := e.producers[src]; p != nil && p.out < mtime.MaxTimestamp {
				return false
			}
		}
	}
	sides, err := worker.NewSideInputs(s.spec.SideInputs, func(src string) []worker.Chunk { return e.sideStores[src] })
	if err != nil {
		e.fail(err)
		return false
	}
	s.sides = sides
	return true
}

// runnable reports whether a bundle (or grouping task) of s can start.
func (e *engine) runnable(s *stageState) bool {
	switch s.spec.Kind {
	case plan.KindSDK:
		if !e.stageRoom(s) {
			return false
		}
		if s.lanes != nil {
			// A stateful stage runs a bundle per idle lane, or one of
			// fired timers once no bundle runs (a key's state is never in
			// two bundles).
			if e.fireTimers(s) {
				return len(s.inflight) == 0 && e.sidesReady(s)
			}
			return s.idleLane() >= 0 && e.sidesReady(s)
		}
		return s.queued > 0 && e.sidesReady(s)
	case plan.KindShuffleWrite, plan.KindKafkaWrite:
		return s.queued > 0
	case plan.KindGroup:
		due := !s.grpNextProc.IsZero() && !e.draining && !e.checkpointing && !e.now().Before(s.grpNextProc)
		return s.grp != nil && (s.queued > 0 || s.in > s.grpNext || due)
	}
	return false
}

// schedule starts bundles while there is room, most downstream stage first
// (draining before producing more keeps the queues short), and none while
// a checkpoint waits for those in flight.
func (e *engine) schedule(ctx context.Context) {
	for e.busy() < e.cfg.Parallelism && !e.checkpointing {
		var s *stageState
		for i := len(e.stages) - 1; i >= 0; i-- {
			if e.runnable(e.stages[i]) {
				s = e.stages[i]
				break
			}
		}
		if s == nil {
			return
		}
		if s.spec.Kind == plan.KindGroup {
			e.startGroup(s)
			continue
		}
		if s.spec.Kind == plan.KindShuffleWrite {
			e.writeShuffle(s)
			continue
		}
		if s.spec.Kind == plan.KindKafkaWrite {
			e.writeKafka(ctx, s)
			continue
		}
		e.seq++
		b := &worker.Bundle{ID: fmt.Sprintf("b%d", e.seq), Stage: s.spec, SideInputs: s.sides}
		if s.store != nil {
			b.State = userstate.Begin(s.store)
		}
		var fl *inflight
		switch {
		case s.lanes == nil:
			fl = s.take(b, 0, e.bundleCap(s))
		case e.fireTimers(s):
			s.lastFired = true
			fl = s.fire(b, e.now())
			fl.lane = -1
			for i := range s.lanes {
				s.lanes[i].busy = true
			}
		default:
			s.lastFired = false
			l := s.idleLane()
			fl = s.take(b, l, s.bundleSize)
			fl.lane = l
			s.lanes[l].busy = true
		}
		b.Plan = s.pool.take()
		s.inflight[b.ID] = fl
		e.bundleStage[b.ID] = s
		e.started(s, b.ID)
		e.running++
		if e.inline(s, fl.elements) {
			e.runInline(ctx, b)
			continue
		}
		e.workers.run(func() { e.results <- process(ctx, b) })
	}
}

// fireTimers reports whether the next bundle of a stage delivers its due
// timers rather than queued elements. Elements go first when they are
// older than the earliest due event-time timer (as prism orders them);
// due processing-time timers alternate with elements, so a backlog does
// not starve them.
func (e *engine) fireTimers(s *stageState) bool {
	if s.timers == nil || e.draining || e.checkpointing {
		return false
	}
	now := e.now()
	if !s.timers.Due(s.in, now) {
		return false
	}
	if s.queued == 0 {
		return true
	}
	if next := s.timers.NextEvent(); next < mtime.MaxTimestamp && next <= s.in && next < s.queueHold() {
		return true
	}
	t, ok := s.timers.NextProcessing()
	return ok && !t.After(now) && !s.lastFired
}

// fire moves the stage's due timers into b.
func (s *stageState) fire(b *worker.Bundle, now time.Time) *inflight {
	b.Timers = s.timers.Fire(s.in, now)
	fl := &inflight{hold: mtime.MaxTimestamp}
	for _, f := range b.Timers {
		fl.hold = min(fl.hold, f.Hold)
		fl.timers += f.N
	}
	return fl
}

// process runs a bundle; worker.Process does not panic, but a bug there
// must fail the run, not the process.
func process(ctx context.Context, b *worker.Bundle) (r *worker.Result) {
	defer func() {
		if p := recover(); p != nil {
			r = &worker.Result{Bundle: b, Err: fmt.Errorf("localrunner: internal error in bundle %s of %s: %v\n%s", b.ID, b.Stage.ID, p, debug.Stack())}
		}
	}()
	return worker.Process(ctx, b)
}

// take moves up to size elements of lane from the front of the queue
// into b. Taking part of a batch gives the piece its own finalization
// references.
func (s *stageState) take(b *worker.Bundle, lane, size int) *inflight {
	fl := &inflight{hold: mtime.MaxTimestamp}
	taken := false // a batch emptied: the queue is compacted
	for i := 0; i < len(s.queue) && fl.elements < size; i++ {
		q := s.queue[i]
		if q.lane != lane {
			continue
		}
		k := min(q.remaining(), size-fl.elements)
		start := q.start()
		b.Input = append(b.Input, q.data[start:q.ends[q.next+k-1]])
		q.next += k
		fl.elements += k
		fl.pieces = append(fl.pieces, piece{fins: q.fins})
		fl.hold = min(fl.hold, q.hold)
		if q.remaining() == 0 {
			s.queue[i] = nil
			taken = true
		} else {
			for _, f := range q.fins {
				f.refs++
			}
		}
	}
	if taken {
		s.queue = slices.DeleteFunc(s.queue, func(q *batch) bool { return q == nil })
	}
	s.queued -= fl.elements
	if s.lanes != nil {
		s.lanes[lane].queued -= fl.elements
	}
	return fl
}
