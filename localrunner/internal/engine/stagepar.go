package engine

import (
	"slices"
	"strings"

	"github.com/streams-dev/streams/internal/contract"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/worker"
)

// Per-stage parallelism and the order of a stage's outputs.
//
// Config.StepParallelism bounds, per step, the bundles running at once of
// the stages that run the step's transforms (stepLimits says which). A
// bounded stage with a backlog spreads it over its bundles (bundleCap), so
// that the bound is reached, and the run's own bound is raised to the sum
// of the stages' bounds when it is lower (initStagePar).
//
// A stateless stage whose outputs other stages read hands them on in the
// order its bundles took their input, whatever order the bundles finish
// in: a finished bundle waits, with its outputs, for the bundles that
// took their input before it (onBundleDone). Waiting, it still counts as
// running for checkpoints and the end of the run, but not against the
// stage's bound nor the run's, so a slow bundle does not idle the others.
// So the elements of a Kafka partition reach the next stage in offset
// order through any number of bundles in flight. Stateful stages keep
// their own order per key (one bundle per key lane); a splittable stage's
// bundles are independent restrictions.

// stagePar is the engine's per-stage parallelism state, owned by the
// engine's goroutine.
type stagePar struct {
	// limit is the most bundles of a plan stage (all its task copies
	// together) that run at once, by stage ID; a stage not there has only
	// the run's bound.
	limit map[string]int
	// order holds, for each stage copy with bundles in flight whose
	// outputs keep their order, those bundles in the order they took their
	// input, and the finished ones waiting for an earlier one.
	order map[*stageState]*resultOrder
	// waiting counts the finished bundles waiting in order (included in
	// engine.running).
	waiting int
}

// resultOrder is the bundles in flight of one stage copy.
type resultOrder struct {
	ids  []string                  // in the order they took their input
	done map[string]*worker.Result // finished, waiting for ids[0]
}

// stepsOf returns the steps a transform's unique name belongs to: its
// top-level scope, or each of the steps that scope joins with
// contract.StepSeparator (a chain of steps run in one DoFn).
func stepsOf(name string) []string {
	scope, _, _ := strings.Cut(name, "/")
	return strings.Split(scope, contract.StepSeparator)
}

// stepLimits returns, for each SDK stage of p running transforms of a
// step in steps, the largest parallelism among those steps, and the steps
// no SDK stage runs (sorted): their transforms are runner-side (a
// GroupByKey, a native Kafka read) or the pipeline has none.
func stepLimits(p *plan.Plan, steps map[string]int) (limits map[string]int, unmatched []string) {
	if len(steps) == 0 {
		return nil, nil
	}
	limits = map[string]int{}
	matched := map[string]bool{}
	for _, s := range p.Stages {
		if s.Kind != plan.KindSDK {
			continue
		}
		n := 0
		for _, name := range s.Names {
			for _, step := range stepsOf(name) {
				if v, ok := steps[step]; ok {
					n = max(n, v)
					matched[step] = true
				}
			}
		}
		if n > 0 {
			limits[s.ID] = n
		}
	}
	for step := range steps {
		if !matched[step] {
			unmatched = append(unmatched, step)
		}
	}
	slices.Sort(unmatched)
	return limits, unmatched
}

// initStagePar finds the stages' bounds, and raises the run's bound to
// their sum when it is lower, so that every bounded stage can reach its
// own at the same time.
func (e *engine) initStagePar() {
	limits, unmatched := stepLimits(e.cfg.Plan, e.cfg.StepParallelism)
	e.par = stagePar{limit: limits, order: map[*stageState]*resultOrder{}}
	for _, step := range unmatched {
		e.log.Warn("localrunner: the parallelism of this step has no effect: none of its transforms runs in bundles (a GroupByKey and a Kafka read run in the runner)",
			"step", step, "parallelism", e.cfg.StepParallelism[step])
	}
	sum := 0
	for _, n := range limits {
		sum += n
	}
	if sum > e.cfg.Parallelism {
		e.log.Info("localrunner: raising the bound on bundles in flight to the sum of the steps' parallelism",
			"from", e.cfg.Parallelism, "to", sum)
		e.cfg.Parallelism = sum
	}
}

// busy is how many bundles run, not counting finished ones waiting for
// their turn: what the run's bound applies to.
func (e *engine) busy() int { return e.running - e.par.waiting }

// stageRoom reports whether a bundle of s may start under its stage's
// bound: fewer of its bundles (in every task copy, finished ones waiting
// for their turn left out) are running.
func (e *engine) stageRoom(s *stageState) bool {
	n, ok := e.par.limit[s.spec.ID]
	if !ok {
		return true
	}
	running := 0
	for id, b := range e.bundleStage {
		if b.spec != s.spec {
			continue
		}
		if o := e.par.order[b]; o != nil && o.done[id] != nil {
			continue
		}
		running++
	}
	return running < n
}

// bundleCap is how many elements the next bundle of stateless stage s
// takes: for a stage bounded to n > 1 bundles, its share of the queue
// (at least one), so that a backlog runs in n bundles at once rather than
// in one large one.
func (e *engine) bundleCap(s *stageState) int {
	n := e.par.limit[s.spec.ID]
	if n <= 1 {
		return s.bundleSize
	}
	return min(s.bundleSize, max(1, (s.queued+n-1)/n))
}

// keepsOrder reports whether s hands its outputs on in the order its
// bundles took their input.
func keepsOrder(s *stageState) bool {
	return s.spec.Kind == plan.KindSDK && s.lanes == nil && !s.spec.Splittable && len(s.spec.Outputs) > 0
}

// started records that bundle id of s took its input.
func (e *engine) started(s *stageState, id string) {
	if !keepsOrder(s) {
		return
	}
	if e.par.order == nil {
		e.par.order = map[*stageState]*resultOrder{}
	}
	o := e.par.order[s]
	if o == nil {
		o = &resultOrder{done: map[string]*worker.Result{}}
		e.par.order[s] = o
	}
	o.ids = append(o.ids, id)
}

// onBundleDone takes a finished bundle: at once when its stage does not
// keep order, when it failed or when the run is stopping (nothing is
// handed on then); otherwise once every bundle of its stage copy that
// took its input before it has been taken.
func (e *engine) onBundleDone(r *worker.Result) {
	s := e.bundleStage[r.Bundle.ID]
	o := e.par.order[s]
	if o == nil {
		e.onResult(r)
		e.releaseAllIfStopping()
		return
	}
	if r.Err != nil || e.stopping {
		o.ids = slices.DeleteFunc(o.ids, func(id string) bool { return id == r.Bundle.ID })
		e.forget(s, o)
		e.onResult(r)
		e.releaseAllIfStopping()
		return
	}
	o.done[r.Bundle.ID] = r
	e.par.waiting++
	for len(o.ids) > 0 && !e.stopping {
		next, ok := o.done[o.ids[0]]
		if !ok {
			break
		}
		delete(o.done, o.ids[0])
		e.par.waiting--
		o.ids = o.ids[1:]
		e.onResult(next)
	}
	e.forget(s, o)
	e.releaseAllIfStopping()
}

// forget drops the order of a stage copy with no bundle in flight.
func (e *engine) forget(s *stageState, o *resultOrder) {
	if len(o.ids) == 0 && len(o.done) == 0 {
		delete(e.par.order, s)
	}
}

// releaseAllIfStopping takes every finished bundle still waiting for its
// turn once the run stops: their outputs are dropped, and the run ends
// when nothing is in flight.
func (e *engine) releaseAllIfStopping() {
	if !e.stopping {
		return
	}
	for s, o := range e.par.order {
		for _, id := range o.ids {
			if r, ok := o.done[id]; ok {
				delete(o.done, id)
				e.par.waiting--
				e.onResult(r)
			}
		}
		o.ids = slices.DeleteFunc(o.ids, func(id string) bool { _, gone := e.bundleStage[id]; return !gone })
		e.forget(s, o)
	}
}
