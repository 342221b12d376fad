package engine

import (
	"time"

	"github.com/streams-dev/streams/localrunner/internal/userstate"
)

// HeldReport is what a run holds and has not emitted yet: elements in
// windows that wait for the watermark or a trigger, user state (such as a
// Batch step's messages waiting for the batch to fill) and timers.
type HeldReport struct {
	// Windows are the windows with buffered elements, of every
	// GroupByKey.
	Windows int
	// StateCells are the user-state cells holding data, of every
	// stateful DoFn.
	StateCells int
	// Timers are the timers set; NextProcessingTimer is when the earliest
	// processing-time timer is due, zero when none is set.
	Timers              int
	NextProcessingTimer time.Time
	// Stages are the IDs of the stages holding anything, with their
	// transforms' names.
	Stages []HeldStage
}

// HeldStage is a stage that holds windows, state or timers.
type HeldStage struct {
	ID                         string
	Transforms                 []string
	Windows, StateCells, Timer int
}

// Empty reports whether nothing is held.
func (r HeldReport) Empty() bool { return r.Windows == 0 && r.StateCells == 0 && r.Timers == 0 }

// reportHeld calls the Held hook with what the run holds when it changed
// since the last call, while no bundle runs (user state is then not being
// committed).
func (e *engine) reportHeld() {
	h := e.cfg.Hooks.Held
	if h == nil || e.running > 0 {
		return
	}
	var r HeldReport
	r.NextProcessingTimer, _ = e.nextTimer()
	for _, s := range e.stages {
		hs := HeldStage{ID: s.spec.ID, Transforms: s.spec.Names, Windows: s.grpPending}
		if m, ok := s.store.(*userstate.Memory); ok {
			hs.StateCells = m.Size()
		}
		if s.timers != nil {
			hs.Timer = s.timers.Len()
		}
		if hs.Windows+hs.StateCells+hs.Timer == 0 {
			continue
		}
		r.Windows += hs.Windows
		r.StateCells += hs.StateCells
		r.Timers += hs.Timer
		r.Stages = append(r.Stages, hs)
	}
	last := e.held
	if e.heldSent && last.Windows == r.Windows && last.StateCells == r.StateCells && last.Timers == r.Timers &&
		last.NextProcessingTimer.Equal(r.NextProcessingTimer) {
		return
	}
	e.held, e.heldSent = r, true
	h(r)
}
