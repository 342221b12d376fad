package engine

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/worker"
)

// groupDone is the result of a grouping task.
type groupDone struct {
	stage   *stageState
	id      string
	buf     *group.Buffer[*fin]
	res     *group.Result[*fin]
	elapsed time.Duration
	err     error
}

// startGroup hands a group stage's whole queue and its buffer to a
// grouping task, which buffers the elements and fires the windows the
// input watermark has passed. A task takes every queued element so that a
// window fires only after everything that arrived before its watermark.
func (e *engine) startGroup(s *stageState) {
	e.seq++
	id := fmt.Sprintf("g%d", e.seq)
	fl := &inflight{hold: mtime.MaxTimestamp}
	in := make([]group.Input[*fin], 0, len(s.queue))
	for _, q := range s.queue {
		start := q.start()
		in = append(in, group.Input[*fin]{Data: q.data, Start: start, Ends: q.ends[q.next:], Arrival: q.arrival, Tags: q.fins, Values: q.vals, Encode: q.enc})
		fl.elements += q.remaining()
		fl.pieces = append(fl.pieces, piece{fins: q.fins})
		fl.hold = min(fl.hold, q.hold)
	}
	clear(s.queue)
	s.queue, s.queued = s.queue[:0], 0
	s.inflight[id] = fl
	buf, wm := s.grp, s.in
	s.grp = nil
	e.running++
	now := e.now()
	e.workers.run(func() {
		d := runGroup(s.spec, buf, in, wm, now)
		d.stage, d.id = s, id
		e.grouped <- d
	})
}

// runGroup runs a grouping task. It only touches the buffer and the input
// it was handed (and reads the stage's immutable plan).
func runGroup(spec *plan.Stage, buf *group.Buffer[*fin], in []group.Input[*fin], wm mtime.Time, now time.Time) (d groupDone) {
	start := time.Now()
	d = groupDone{buf: buf}
	defer func() {
		if p := recover(); p != nil {
			d.err = fmt.Errorf("localrunner: internal error grouping in %s: %v\n%s", spec.ID, p, debug.Stack())
		}
		d.elapsed = time.Since(start)
	}()
	d.res, d.err = buf.Process(in, wm, now)
	var te *worker.TransformError
	if d.err != nil && !errors.As(d.err, &te) {
		d.err = fmt.Errorf("localrunner: transform %q: %w", spec.Names[0], d.err)
	}
	return d
}

func (e *engine) onGrouped(d groupDone) {
	e.running--
	s := d.stage
	fl := s.inflight[d.id]
	delete(s.inflight, d.id)
	s.grp = d.buf
	if s.task != nil && s.task.gone {
		s.retire()
	}
	ev := BundleEvent{Stage: s.spec.ID, Transforms: s.spec.Names, Bundle: d.id, Elements: fl.elements, Elapsed: d.elapsed, Err: d.err}
	if d.err != nil {
		if !e.stopping {
			e.log.Error("localrunner: grouping failed", "stage", s.spec.ID, "error", d.err)
			e.fail(d.err)
		}
		e.hookBundle(ev)
		return
	}
	if e.stopping {
		e.hookBundle(ev)
		return
	}
	r := d.res
	e.active = true
	s.grpHold, s.grpNext, s.grpPending, s.grpNextProc = r.Hold, r.Next, r.Pending, r.NextProcessing
	if r.Dropped > 0 {
		ev.Dropped = r.Dropped
		e.droppedLate(s, r.Dropped)
	}
	// References: windows take theirs, the fired panes' batches theirs,
	// and only then do the fired windows and the input give theirs up, so
	// no count touches zero on the way.
	for _, f := range r.Held {
		f.refs++
		f.held++
	}
	if len(r.Ends) > 0 {
		ev.Outputs = len(r.Ends)
		for _, p := range s.spec.Outputs {
			if p != s.spec.Group.Dropped {
				e.deliver(p, s.task, r.Data, r.Ends, r.MinTS, r.Tags)
			}
		}
	}
	if len(r.DroppedEnds) > 0 {
		e.deliver(s.spec.Group.Dropped, s.task, r.DroppedData, r.DroppedEnds, r.DroppedMinTS, r.DroppedTags)
	}
	for _, f := range r.Released {
		f.held--
		e.release(f)
	}
	for _, p := range fl.pieces {
		for _, f := range p.fins {
			e.release(f)
		}
	}
	e.hookBundle(ev)
}
