package plan

import (
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/streams-dev/streams/localrunner/internal/group"
)

// groupTrigger translates a trigger the planner accepted; nil for the
// default trigger at the root.
func groupTrigger(t *pipepb.Trigger) *group.Trigger {
	if _, def := t.GetTrigger().(*pipepb.Trigger_Default_); def || t == nil {
		return nil
	}
	return translateTrigger(t)
}

func translateTrigger(t *pipepb.Trigger) *group.Trigger {
	var subs []*pipepb.Trigger
	g := &group.Trigger{}
	switch x := t.GetTrigger().(type) {
	case *pipepb.Trigger_Default_:
		g.Kind = group.TriggerDefault
	case *pipepb.Trigger_Always_:
		g.Kind = group.TriggerAlways
	case *pipepb.Trigger_Never_:
		g.Kind = group.TriggerNever
	case *pipepb.Trigger_AfterSynchronizedProcessingTime_:
		g.Kind = group.TriggerAfterSynchronizedProcessingTime
	case *pipepb.Trigger_ElementCount_:
		g.Kind, g.Count = group.TriggerAfterCount, int64(x.ElementCount.GetElementCount())
	case *pipepb.Trigger_AfterProcessingTime_:
		g.Kind = group.TriggerAfterProcessingTime
		for _, tt := range x.AfterProcessingTime.GetTimestampTransforms() {
			if d := tt.GetDelay(); d != nil {
				g.Transforms = append(g.Transforms, group.TimestampTransform{Delay: d.GetDelayMillis()})
			} else if a := tt.GetAlignTo(); a != nil {
				g.Transforms = append(g.Transforms, group.TimestampTransform{Period: a.GetPeriod(), Offset: a.GetOffset()})
			}
		}
	case *pipepb.Trigger_AfterEndOfWindow_:
		g.Kind = group.TriggerAfterEndOfWindow
		for _, sub := range []*pipepb.Trigger{x.AfterEndOfWindow.GetEarlyFirings(), x.AfterEndOfWindow.GetLateFirings()} {
			if sub == nil {
				g.Subs = append(g.Subs, nil)
			} else {
				g.Subs = append(g.Subs, translateTrigger(sub))
			}
		}
		return g
	case *pipepb.Trigger_Repeat_:
		g.Kind, subs = group.TriggerRepeat, []*pipepb.Trigger{x.Repeat.GetSubtrigger()}
	case *pipepb.Trigger_OrFinally_:
		g.Kind, subs = group.TriggerOrFinally, []*pipepb.Trigger{x.OrFinally.GetMain(), x.OrFinally.GetFinally()}
	case *pipepb.Trigger_AfterAny_:
		g.Kind, subs = group.TriggerAfterAny, x.AfterAny.GetSubtriggers()
	case *pipepb.Trigger_AfterAll_:
		g.Kind, subs = group.TriggerAfterAll, x.AfterAll.GetSubtriggers()
	case *pipepb.Trigger_AfterEach_:
		g.Kind, subs = group.TriggerAfterEach, x.AfterEach.GetSubtriggers()
	}
	for _, sub := range subs {
		g.Subs = append(g.Subs, translateTrigger(sub))
	}
	return g
}
