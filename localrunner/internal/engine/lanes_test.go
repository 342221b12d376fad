package engine

import (
	"fmt"
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// lanedStage returns a stateful stage of n key lanes over KV<string, int64>.
func lanedStage(n int) *stageState {
	s := newStageState(&plan.Stage{ID: "stateful", Kind: plan.KindSDK, Stateful: true}, 100)
	s.lanes = make([]lane, n)
	s.keyLen = group.KeyLength(coder.NewString())
	s.wdec = exec.MakeWindowDecoder(coder.NewGlobalWindow())
	return s
}

// A batch for a stateful stage of several lanes is split by key: every
// element of a key lands in one lane, in the order it came, the lanes'
// counts add up, and each part holds a reference to the batch's bundles.
func TestEnqueueLanesKeepsKeysTogether(t *testing.T) {
	s := lanedStage(4)
	var keys []string
	var vals []int64
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("k%d", i%13))
		vals = append(vals, int64(i))
	}
	b := kvs(t, 5, keys, vals)
	f := &fin{refs: 1}
	b.fins = []*fin{f}
	if dropped := s.enqueue(b); dropped != 0 {
		t.Fatalf("dropped %d elements, want 0", dropped)
	}
	laneOf := map[string]int{}
	total := 0
	for _, p := range s.queue {
		ks, vs := decodeKVs(t, p)
		total += len(ks)
		for i, k := range ks {
			if l, ok := laneOf[k]; ok && l != p.lane {
				t.Errorf("key %s in lanes %d and %d", k, l, p.lane)
			}
			laneOf[k] = p.lane
			if i > 0 && ks[i-1] == k && vs[i-1] > vs[i] {
				t.Errorf("key %s out of order in lane %d: %d before %d", k, p.lane, vs[i-1], vs[i])
			}
		}
		if p.hold != 5 || !slices.Equal(p.fins, b.fins) {
			t.Errorf("lane %d batch: hold %v, fins %v; want the input's", p.lane, p.hold, p.fins)
		}
	}
	queued := 0
	for _, l := range s.lanes {
		queued += l.queued
	}
	if total != 200 || queued != 200 || s.queued != 200 {
		t.Errorf("elements: %d in batches, %d counted in lanes, %d queued; want 200", total, queued, s.queued)
	}
	if len(s.queue) < 2 {
		t.Fatalf("13 keys went to %d lane(s) of 4", len(s.queue))
	}
	if f.refs != len(s.queue) {
		t.Errorf("bundle references %d, want one per lane batch (%d)", f.refs, len(s.queue))
	}
	if s.idleLane() < 0 {
		t.Error("no idle lane with queued elements")
	}
}

// A busy lane is not idle; a lane with nothing queued is not either.
func TestIdleLane(t *testing.T) {
	s := lanedStage(3)
	if got := s.idleLane(); got != -1 {
		t.Errorf("idleLane of empty lanes = %d, want -1", got)
	}
	s.lanes[0] = lane{queued: 2, busy: true}
	s.lanes[2] = lane{queued: 1}
	if got := s.idleLane(); got != 2 {
		t.Errorf("idleLane = %d, want 2 (lane 0 is busy, lane 1 empty)", got)
	}
}
