package runner

import (
	"strings"
	"time"

	"github.com/streams-dev/streams/localrunner"
)

// What a development run holds when its input is processed
//
// Records can be processed (and their offsets committed) while their
// results wait in the bundled runner's state: a Batch step's messages
// until the batch is full or its batch_timedelta passes, a Reduce's
// windows until the watermark passes their end. With ExitWhenDone the
// session waits for those a processing-time timer will flush before the
// run's timeout (a batch's batch_timedelta, a processing-time trigger),
// so that their results are printed; what only more input or the
// watermark would flush, it names when it stops, and says whether a
// later run emits it (the state is kept) or it is discarded.

// onHeld is the bundled runner's Held hook.
func (s *devSession) onHeld(r localrunner.HeldReport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = &r
}

// flushDue reports whether the run holds results that a processing-time
// timer due before deadline will flush.
func (s *devSession) flushDue(h *localrunner.HeldReport, deadline time.Time) bool {
	return h != nil && h.Timers > 0 && !h.NextProcessingTimer.IsZero() && h.NextProcessingTimer.Before(deadline)
}

// logStop says that the input is processed, and what the run still holds.
func (s *devSession) logStop(h *localrunner.HeldReport) {
	if h == nil || h.Empty() {
		s.log.Info("input processed; stopping", "records_out", s.seen)
		return
	}
	var names []string
	for _, st := range h.Stages {
		if len(st.Transforms) > 0 {
			step, _, _ := strings.Cut(st.Transforms[0], "/")
			names = append(names, step)
		}
	}
	fate := "they are discarded: this run's state is temporary (development broker) or in memory (--state-dir none)"
	if s.keepsState {
		fate = "the next run with the same state directory emits them"
	}
	s.log.Warn("input processed; stopping with results still HELD IN STATE, not printed: "+
		"batches not yet full and windows the watermark has not closed wait for more input; "+fate,
		"records_out", s.seen, "windows", h.Windows, "state_cells", h.StateCells, "timers", h.Timers, "steps", names)
}
