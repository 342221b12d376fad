package engine

import (
	"testing"
	"time"

	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// A bundle runs on the loop only when nothing else runs, it is small, and
// its stage's record says it takes under the budget: after inlineSeen
// bundles on workers, at the moving average of their time per element.
func TestInlineDecision(t *testing.T) {
	e := &engine{}
	s := &stageState{spec: &plan.Stage{Kind: plan.KindSDK}}
	e.running = 1
	if e.inline(s, 1) {
		t.Error("a stage with no bundles done yet runs on the loop")
	}
	for range inlineSeen {
		s.inlineStats.note(10, 10*time.Microsecond) // 1 µs per element
	}
	if !e.inline(s, 10) {
		t.Errorf("a quick stage's bundle of 10 is not run on the loop (%+v)", s.inlineStats)
	}
	for _, c := range []struct {
		name string
		n    int
		mod  func()
		undo func()
	}{
		{"another bundle runs", 10, func() { e.running = 2 }, func() { e.running = 1 }},
		{"too many elements", inlineMaxElements + 1, func() {}, func() {}},
		{"a stateful stage", 10, func() { s.lanes = []lane{{}} }, func() { s.lanes = nil }},
		{"a splittable stage", 10, func() { s.spec.Splittable = true }, func() { s.spec.Splittable = false }},
	} {
		c.mod()
		if e.inline(s, c.n) {
			t.Errorf("%s: the bundle runs on the loop", c.name)
		}
		c.undo()
	}
	// The loop spent its share of the period in bundles: the next goes
	// to a worker, until the next period.
	e.inlineLoad.spent = inlineShare
	if e.inline(s, 10) {
		t.Error("a bundle runs on the loop after the loop's share of the period")
	}
	e.inlineLoad.start = time.Now().Add(-inlinePeriod)
	if !e.inline(s, 10) {
		t.Error("a new period does not give the loop its share back")
	}
	// The stage turns slow: 10 µs per element puts 64 over the budget,
	// once the average has moved.
	for range 40 {
		s.inlineStats.note(10, 100*time.Microsecond)
	}
	if e.inline(s, inlineMaxElements) {
		t.Errorf("a slow stage's bundle of %d runs on the loop (%v per element)", inlineMaxElements, s.inlineStats.perElem)
	}
	if !e.inline(s, 10) {
		t.Errorf("a bundle of 10 at %v per element is under the budget but not run on the loop", s.inlineStats.perElem)
	}
}
