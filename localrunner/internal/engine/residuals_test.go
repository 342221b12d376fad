package engine

import (
	"container/heap"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/worker"
)

// Parked residuals are queued again at their stage once due, earliest
// first; the others stay parked.
func TestUnparkQueuesDueResiduals(t *testing.T) {
	e := testEngine(&plan.Stage{ID: "sdf", Kind: plan.KindSDK, Splittable: true})
	s := e.byID["sdf"]
	t0 := time.Unix(1000, 0)
	for i, d := range []time.Duration{3, 1, 5, 2} {
		heap.Push(&e.parked, &parked{due: t0.Add(d * time.Second), stage: s, res: worker.Residual{Element: []byte{byte(d)}, Watermark: mtime.Time(10 * i)}})
	}
	e.unpark(t0.Add(3 * time.Second))
	var got []byte
	for _, b := range s.queue {
		got = append(got, b.data...)
		if len(b.ends) != 1 || b.ends[0] != len(b.data) {
			t.Errorf("residual batch ends %v, want one element", b.ends)
		}
	}
	if string(got) != "\x01\x02\x03" {
		t.Errorf("queued residuals %v, want the ones due by 3 s, earliest first: [1 2 3]", got)
	}
	if len(e.parked) != 1 || !e.parked[0].due.Equal(t0.Add(5*time.Second)) {
		t.Errorf("still parked: %d, want the one due at 5 s", len(e.parked))
	}
	if s.bundleSize != 1 {
		t.Errorf("a splittable stage's bundle size is %d, want 1", s.bundleSize)
	}
}
