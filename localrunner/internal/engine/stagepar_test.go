package engine

import (
	"maps"
	"slices"
	"testing"

	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// A step's bound applies to every SDK stage running one of its
// transforms, whether its scope is the step's own or a chain's naming
// several steps; a stage takes the largest bound among its steps; a step
// found only in runner-side stages is reported.
func TestStepLimits(t *testing.T) {
	p := &plan.Plan{Stages: []*plan.Stage{
		{ID: "read", Kind: plan.KindKafka, Names: []string{"in/kafka.Read"}},
		{ID: "chain", Kind: plan.KindSDK, Names: []string{"in+parse+valid+count/beamtranslate.recordKeyFn"}},
		{ID: "gbk", Kind: plan.KindGroup, Names: []string{"count/CombinePerKey/CoGBK", "window/GroupByKey"}},
		{ID: "out", Kind: plan.KindSDK, Names: []string{"count/beamtranslate.reduceOutputFn", "ser/beamtranslate.stepFn", "out/kafka.Write/kafka.writeFn"}},
		{ID: "other", Kind: plan.KindSDK, Names: []string{"Impulse", "parsed"}},
	}}
	limits, unmatched := stepLimits(p, map[string]int{"parse": 4, "valid": 2, "count": 3, "ser": 1, "in": 5, "window": 2, "pars": 7})
	want := map[string]int{"chain": 5, "out": 3}
	if !maps.Equal(limits, want) {
		t.Errorf("limits %v, want %v", limits, want)
	}
	if !slices.Equal(unmatched, []string{"pars", "window"}) {
		t.Errorf("unmatched %v, want [pars window]", unmatched)
	}
	if l, u := stepLimits(p, nil); l != nil || u != nil {
		t.Errorf("no steps: %v, %v", l, u)
	}
}

// A bounded stage starts no bundle beyond its bound, counting its task
// copies' bundles, and spreads its queue over its bound; an unbounded
// stage takes whole bundles.
func TestStageRoomAndBundleCap(t *testing.T) {
	bounded := &plan.Stage{ID: "a", Kind: plan.KindSDK, Names: []string{"a/fn"}}
	free := &plan.Stage{ID: "b", Kind: plan.KindSDK, Names: []string{"b/fn"}}
	e := testEngine(bounded, free)
	e.cfg.StepParallelism = map[string]int{"a": 3}
	e.initStagePar()
	if e.cfg.Parallelism != 3 {
		t.Errorf("run's bound %d, want it raised to 3", e.cfg.Parallelism)
	}
	a, b := e.byID["a"], e.byID["b"]
	copyOfA := newStageState(bounded, 100) // a task's copy shares the bound
	a.queued = 250
	if got := e.bundleCap(a); got != 84 {
		t.Errorf("bundle cap %d of 250 queued over 3 bundles, want 84", got)
	}
	a.queued = 1
	if got := e.bundleCap(a); got != 1 {
		t.Errorf("bundle cap %d of 1 queued, want 1", got)
	}
	b.queued = 250
	if got := e.bundleCap(b); got != 100 {
		t.Errorf("unbounded stage's bundle cap %d, want the bundle size 100", got)
	}
	for i, s := range []*stageState{a, copyOfA, b, a} {
		if !e.stageRoom(a) {
			t.Fatalf("no room for a after %d bundles", i)
		}
		e.bundleStage[string(rune('0'+i))] = s
	}
	if e.stageRoom(a) || e.stageRoom(copyOfA) {
		t.Error("room for a fourth bundle of a stage bounded to 3")
	}
	if !e.stageRoom(b) {
		t.Error("no room for the unbounded stage")
	}
}
