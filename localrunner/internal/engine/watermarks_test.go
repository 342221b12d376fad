package engine

import (
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/worker"
)

// A stage's output watermark is the minimum of its input watermark and its
// holds (queued and in-flight elements, parked residuals, a GroupByKey's
// earliest pane), and never moves back.
func TestRefreshWatermarks(t *testing.T) {
	e := testEngine(
		&plan.Stage{ID: "src", Kind: plan.KindKafka, Outputs: []string{"a"}},
		&plan.Stage{ID: "parse", Kind: plan.KindSDK, Upstream: []string{"a"}, Outputs: []string{"b"}},
		&plan.Stage{ID: "gbk", Kind: plan.KindGroup, Upstream: []string{"b"}, Outputs: []string{"c"}},
		&plan.Stage{ID: "out", Kind: plan.KindSDK, Upstream: []string{"c"}},
	)
	var moved []string
	e.cfg.Hooks.WatermarkAdvanced = func(ev WatermarkEvent) { moved = append(moved, ev.Stage) }
	src, parse, gbk, out := e.byID["src"], e.byID["parse"], e.byID["gbk"], e.byID["out"]
	check := func(step string, want map[*stageState]mtime.Time) {
		t.Helper()
		e.refreshWatermarks()
		for s, w := range want {
			if s.out != w {
				t.Errorf("%s: stage %s: output watermark %v, want %v", step, s.spec.ID, s.out, w)
			}
		}
	}

	src.srcWM = 1000
	parse.queue = []*batch{{hold: 400}}
	gbk.grpHold = 300
	check("holds", map[*stageState]mtime.Time{src: 1000, parse: 400, gbk: 300, out: 300})
	if parse.in != 1000 || gbk.in != 400 {
		t.Errorf("input watermarks %v, %v; want 1000, 400", parse.in, gbk.in)
	}

	parse.queue = nil
	parse.inflight["b1"] = &inflight{hold: 700}
	e.parked = parkedHeap{{stage: parse, res: worker.Residual{Watermark: 600}}}
	gbk.grpHold = mtime.MaxTimestamp
	check("in flight and parked", map[*stageState]mtime.Time{parse: 600, gbk: 600, out: 600})

	delete(parse.inflight, "b1")
	e.parked = nil
	src.srcWM = 2000
	check("released", map[*stageState]mtime.Time{parse: 2000, gbk: 2000, out: 2000})

	parse.queue = []*batch{{hold: 100}} // a hold behind the watermark
	check("monotonic", map[*stageState]mtime.Time{parse: 2000, gbk: 2000, out: 2000})
	if gbk.in != 2000 {
		t.Errorf("the GroupByKey's input watermark went back to %v", gbk.in)
	}
	if len(moved) != 11 {
		t.Errorf("WatermarkAdvanced called %d times (%v), want 11: 4 stages, then 3 (not the source), then 4, then none", len(moved), moved)
	}
}
