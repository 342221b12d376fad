package plan

import (
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
)

func (pl *planner) refuse(tid, reason string) {
	t := pl.ts[tid]
	pl.errs = append(pl.errs, &UnsupportedError{
		Transform: t.GetUniqueName(),
		Composite: pl.names[pl.parent[tid]],
		URN:       t.GetSpec().GetUrn(),
		Reason:    reason,
	})
}

func (pl *planner) skipSubtree(tid string) {
	for _, sub := range pl.ts[tid].GetSubtransforms() {
		pl.skip[sub] = true
		pl.skipSubtree(sub)
	}
}

// unsupportedState says why the engine cannot run a stateful DoFn, or "".
func unsupportedState(pardo *pipepb.ParDoPayload) string {
	if pardo.GetRestrictionCoderId() != "" {
		return reasonStatefulSDF
	}
	for _, id := range sortedKeys(pardo.GetStateSpecs()) {
		switch pardo.GetStateSpecs()[id].GetSpec().(type) {
		case *pipepb.StateSpec_ReadModifyWriteSpec, *pipepb.StateSpec_BagSpec, *pipepb.StateSpec_CombiningSpec,
			*pipepb.StateSpec_MapSpec, *pipepb.StateSpec_SetSpec, *pipepb.StateSpec_OrderedListSpec:
		default:
			return fmt.Sprintf("state %q: unknown kind of state %T", id, pardo.GetStateSpecs()[id].GetSpec())
		}
	}
	return ""
}

// unsupportedStrategy says why the engine cannot group under ws, or "".
func unsupportedStrategy(ws *pipepb.WindowingStrategy) string {
	switch urn := ws.GetWindowFn().GetUrn(); urn {
	case graphx.URNGlobalWindowsWindowFn, graphx.URNFixedWindowsWindowFn, graphx.URNSlidingWindowsWindowFn:
		if ws.GetMergeStatus() == pipepb.MergeStatus_NEEDS_MERGE {
			return fmt.Sprintf("window function %q with merge status NEEDS_MERGE", urn)
		}
	case graphx.URNSessionsWindowFn:
	default:
		return fmt.Sprintf("window function %q: only global, fixed, sliding and session windows are supported", urn)
	}
	if _, def := ws.GetTrigger().GetTrigger().(*pipepb.Trigger_Default_); !def {
		if ws.GetMergeStatus() == pipepb.MergeStatus_NEEDS_MERGE {
			return reasonTriggerMerging
		}
		if reason := unsupportedTrigger(ws.GetTrigger()); reason != "" {
			return reason
		}
	}
	if ws.GetOutputTime() != pipepb.OutputTime_END_OF_WINDOW {
		return fmt.Sprintf("output time %v: only END_OF_WINDOW (the Go SDK's) is supported", ws.GetOutputTime())
	}
	if m := ws.GetAccumulationMode(); m == pipepb.AccumulationMode_RETRACTING {
		return "retracting accumulation mode is not supported"
	}
	if ws.GetClosingBehavior() == pipepb.ClosingBehavior_EMIT_ALWAYS {
		return "closing behavior EMIT_ALWAYS is not supported"
	}
	if ws.GetOnTimeBehavior() == pipepb.OnTimeBehavior_FIRE_ALWAYS {
		return "on-time behavior FIRE_ALWAYS is not supported"
	}
	if ws.GetAllowedLateness() < 0 {
		return fmt.Sprintf("negative allowed lateness %dms", ws.GetAllowedLateness())
	}
	return ""
}

// unsupportedTrigger says why the group buffer cannot run t, or "".
func unsupportedTrigger(t *pipepb.Trigger) string {
	var subs []*pipepb.Trigger
	switch x := t.GetTrigger().(type) {
	case *pipepb.Trigger_Default_, *pipepb.Trigger_Always_, *pipepb.Trigger_Never_, *pipepb.Trigger_AfterSynchronizedProcessingTime_:
	case *pipepb.Trigger_ElementCount_:
		if x.ElementCount.GetElementCount() < 1 {
			return fmt.Sprintf("trigger AfterCount(%d): the count must be at least 1", x.ElementCount.GetElementCount())
		}
	case *pipepb.Trigger_AfterProcessingTime_:
		for _, tt := range x.AfterProcessingTime.GetTimestampTransforms() {
			switch y := tt.GetTimestampTransform().(type) {
			case *pipepb.TimestampTransform_Delay_:
				if y.Delay.GetDelayMillis() < 0 {
					return "trigger AfterProcessingTime with a negative delay"
				}
			case *pipepb.TimestampTransform_AlignTo_:
				if y.AlignTo.GetPeriod() <= 0 {
					return "trigger AfterProcessingTime aligned to a period that is not positive"
				}
			default:
				return fmt.Sprintf("trigger AfterProcessingTime with timestamp transform %T", y)
			}
		}
	case *pipepb.Trigger_AfterEndOfWindow_:
		subs = []*pipepb.Trigger{x.AfterEndOfWindow.GetEarlyFirings(), x.AfterEndOfWindow.GetLateFirings()}
	case *pipepb.Trigger_Repeat_:
		subs = []*pipepb.Trigger{x.Repeat.GetSubtrigger()}
	case *pipepb.Trigger_OrFinally_:
		subs = []*pipepb.Trigger{x.OrFinally.GetMain(), x.OrFinally.GetFinally()}
	case *pipepb.Trigger_AfterAny_:
		subs = x.AfterAny.GetSubtriggers()
	case *pipepb.Trigger_AfterAll_:
		subs = x.AfterAll.GetSubtriggers()
	case *pipepb.Trigger_AfterEach_:
		subs = x.AfterEach.GetSubtriggers()
	default:
		return fmt.Sprintf("trigger %T is not supported", x)
	}
	if len(subs) == 0 {
		switch t.GetTrigger().(type) {
		case *pipepb.Trigger_AfterAny_, *pipepb.Trigger_AfterAll_, *pipepb.Trigger_AfterEach_:
			return fmt.Sprintf("composite trigger %T without sub-triggers", t.GetTrigger())
		}
	}
	for _, sub := range subs {
		if sub == nil {
			continue // AfterEndOfWindow without early or late firings
		}
		if reason := unsupportedTrigger(sub); reason != "" {
			return reason
		}
	}
	return ""
}
