package engine

import (
	"context"
	"time"

	"github.com/streams-dev/streams/localrunner/internal/worker"
)

// Bundles run on the loop
//
// A small bundle of a stage whose bundles are known to be quick runs on
// the loop's goroutine when nothing else runs, instead of going to a
// worker and its result coming back: at a steady, moderate rate (most
// bundles a few records, the runner otherwise idle) those two goroutine
// hand-offs were a good part of a record's delay through the runner, and
// of its CPU (bench/cmd/latency at 20,000 msg/s, medians of 5 runs
// beside the build before: p50 1.14 against 1.24 ms, 0.53 against 0.57
// cores; p99 unchanged, 6.1 ms). A stage qualifies by
// its record: the per-element time of its bundles (a moving average, the
// first ones on workers) puts a bundle under inlineBudget, so the loop
// is never away from the sources, acknowledgements and checkpoints for
// long; and the loop spends at most a quarter of its time in bundles
// (inlineShare), so that under load they go to workers, in parallel.
// Code that turns slow all at once still holds the loop for as long as
// that bundle takes.

const (
	inlineMaxElements = 64
	inlineBudget      = 200 * time.Microsecond
	// inlineShare bounds the loop's time in bundles: at most this share
	// of each inlinePeriod, so that under load bundles go to workers (in
	// parallel) and the loop stays free for the sources.
	inlinePeriod = 100 * time.Millisecond
	inlineShare  = inlinePeriod / 4
	// inlineSeen is how many bundles a stage runs on workers before its
	// average counts.
	inlineSeen = 4
)

// inlineStats is what a stage's bundles took per element.
type inlineStats struct {
	bundles int
	perElem time.Duration // exponential moving average, 1/8 weight
}

// note adds a bundle of n elements that took d.
func (st *inlineStats) note(n int, d time.Duration) {
	if n <= 0 {
		return
	}
	x := d / time.Duration(n)
	if st.bundles == 0 {
		st.perElem = x
	} else {
		st.perElem += (x - st.perElem) / 8
	}
	st.bundles++
}

// inlineLoad is the loop's time in bundles in the current period.
type inlineLoad struct {
	start time.Time
	spent time.Duration
}

// room reports whether the loop may run another bundle at now.
func (l *inlineLoad) room(now time.Time) bool {
	if now.Sub(l.start) >= inlinePeriod {
		l.start, l.spent = now, 0
	}
	return l.spent < inlineShare
}

// inline reports whether a bundle of n elements of s, just counted in
// e.running, runs on the loop.
func (e *engine) inline(s *stageState, n int) bool {
	st := &s.inlineStats
	return e.running == 1 && s.lanes == nil && !s.spec.Splittable && n <= inlineMaxElements &&
		st.bundles >= inlineSeen && st.perElem*time.Duration(n) <= inlineBudget && e.inlineLoad.room(time.Now())
}

// runInline runs bundle b on the loop; its result is taken by
// takeInline once scheduling ends.
func (e *engine) runInline(ctx context.Context, b *worker.Bundle) {
	r := process(ctx, b)
	e.inlineLoad.spent += r.Elapsed
	e.inlined = append(e.inlined, r)
}

// takeInline hands on the results of the bundles run on the loop, and
// reports whether there were any.
func (e *engine) takeInline() bool {
	if len(e.inlined) == 0 {
		return false
	}
	rs := e.inlined
	e.inlined = nil
	for _, r := range rs {
		e.onBundleDone(r)
	}
	return true
}
