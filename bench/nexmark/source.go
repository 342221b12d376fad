package nexmark

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
)

// Source is the event stream of c as a bounded PCollection<Event>, each
// event at its event time: an Impulse and a splittable DoFn over the
// range of event numbers [0, c.Events), split at first into splits
// ranges (at least 1) that a runner may split further. c must be valid
// (Config.Validate).
func Source(s beam.Scope, c Config, splits int) beam.PCollection {
	s = s.Scope("nexmark.Source")
	imp := beam.Impulse(s)
	return beam.ParDo(s, &generateFn{Config: c, Splits: max(splits, 1)}, imp)
}

// generateFn makes the events of its restriction, an offset range of
// event numbers.
type generateFn struct {
	Config Config
	Splits int
}

func (f *generateFn) CreateInitialRestriction(_ []byte) offsetrange.Restriction {
	return offsetrange.Restriction{Start: 0, End: f.Config.Events}
}

func (f *generateFn) SplitRestriction(_ []byte, r offsetrange.Restriction) []offsetrange.Restriction {
	return r.EvenSplits(int64(f.Splits))
}

func (f *generateFn) RestrictionSize(_ []byte, r offsetrange.Restriction) float64 {
	return r.Size()
}

func (f *generateFn) CreateTracker(r offsetrange.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(offsetrange.NewTracker(r))
}

func (f *generateFn) ProcessElement(rt *sdf.LockRTracker, _ []byte, emit func(beam.EventTime, Event)) {
	r := rt.GetRestriction().(offsetrange.Restriction)
	for n := r.Start; rt.TryClaim(n); n++ {
		emit(mtime.FromMilliseconds(f.Config.Timestamp(n)), f.Config.Event(n))
	}
}
