package plan

import (
	"slices"
	"strconv"
	"time"

	"github.com/streams-dev/streams/internal/contract"
)

// EventTimeAnnotation marks a composite whose ParDo takes event times
// from payloads (contract.EventTimeAnnotation says how).
const EventTimeAnnotation = contract.EventTimeAnnotation

// EventTime describes an SDK stage that gives elements event times of its
// own (EventTimeAnnotation): its output watermark follows the newest
// event time written to Outputs, minus Skew, not its input's.
type EventTime struct {
	Skew time.Duration
	// Outputs are the stage outputs that carry the event times given: the
	// ParDo's main output, or what the stage's transforms make of it.
	Outputs []string
}

// eventTimeSkew returns the skew of the EventTimeAnnotation composite
// enclosing transform tid, if any.
func (pl *planner) eventTimeSkew(tid string) (time.Duration, bool) {
	for id := pl.parent[tid]; id != ""; id = pl.parent[id] {
		v, ok := pl.ts[id].GetAnnotations()[EventTimeAnnotation]
		if !ok {
			continue
		}
		ms, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || ms < 0 {
			return 0, false
		}
		return time.Duration(ms) * time.Millisecond, true
	}
	return 0, false
}

// eventTimes sets EventTime on each SDK stage holding a ParDo annotated
// with EventTimeAnnotation: the stage outputs reached from the ParDo's
// main output ("i0") through the stage's own transforms.
func (pl *planner) eventTimes(s *Stage, stageOf map[string]*Stage, consumers map[string][]link) {
	for _, tid := range s.Transforms {
		skew, ok := pl.eventTimeSkew(tid)
		t := pl.ts[tid]
		if !ok || t.GetSpec().GetUrn() != URNParDo || t.GetOutputs()["i0"] == "" {
			continue
		}
		var outs []string
		seen := map[string]bool{}
		var walk func(p string)
		walk = func(p string) {
			if seen[p] {
				return
			}
			seen[p] = true
			if slices.Contains(s.Outputs, p) {
				outs = append(outs, p)
			}
			for _, c := range consumers[p] {
				if stageOf[c.transform] == s {
					for _, o := range sortedValues(pl.ts[c.transform].GetOutputs()) {
						walk(o)
					}
				}
			}
		}
		walk(t.GetOutputs()["i0"])
		if len(outs) > 0 {
			s.EventTime = &EventTime{Skew: skew, Outputs: outs}
		}
		return
	}
}
