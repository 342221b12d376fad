package kafkasource

import (
	"context"
	"testing"
	"time"
)

// A revoke waits for the partition's batches still queued or being
// processed, up to RevokeTimeout, but not for those whose only work left
// waits in windows (released): the revoked partition's watermark no
// longer moves, so they could only hold the rebalance up.
func TestRevokeDoesNotWaitForWindows(t *testing.T) {
	revoke := func(released bool) time.Duration {
		s, p0, _ := wmSource(t, false)
		s.cfg.RevokeTimeout = 400 * time.Millisecond
		b := &Batch{src: s, part: p0, released: released}
		p0.inflight = []*Batch{b}
		start := time.Now()
		s.revoked(context.Background(), nil, map[string][]int32{"in": {0}})
		if s.parts[p0.tp] != nil || !b.gone {
			t.Errorf("released=%v: the revoked partition is still known, or its batch not gone", released)
		}
		return time.Since(start)
	}
	if d := revoke(true); d > 200*time.Millisecond {
		t.Errorf("a revoke with a batch waiting in windows took %v, want no wait", d)
	}
	if d := revoke(false); d < 400*time.Millisecond {
		t.Errorf("a revoke with a batch being processed took %v, want the revoke timeout (400ms)", d)
	}
}

// A revoke calls Release with the revoked partitions once their batches
// in flight are done, before it returns (the engine drops the tasks and
// waits for their changelog appends there); not when the source closes,
// whose revoke follows the run's last checkpoint.
func TestRevokeReleasesAfterTheBatches(t *testing.T) {
	for _, closing := range []bool{false, true} {
		s, p0, _ := wmSource(t, false)
		s.cfg.RevokeTimeout = 5 * time.Second
		s.closing = closing
		b := &Batch{src: s, part: p0}
		p0.inflight = []*Batch{b}
		var released []int32
		var pendingAtRelease bool
		s.cfg.Release = func(topic string, ps []int32) {
			if topic != "in" {
				t.Errorf("Release of topic %q", topic)
			}
			s.mu.Lock()
			pendingAtRelease = !b.done
			s.mu.Unlock()
			released = append(released, ps...)
		}
		time.AfterFunc(50*time.Millisecond, func() {
			s.mu.Lock()
			b.done = true
			s.mu.Unlock()
		})
		s.revoked(context.Background(), nil, map[string][]int32{"in": {0}})
		switch {
		case closing && len(released) > 0:
			t.Errorf("closing: Release called with %v", released)
		case !closing && (len(released) != 1 || released[0] != 0):
			t.Errorf("Release got %v, want [0]", released)
		case !closing && pendingAtRelease:
			t.Error("Release was called before the partition's batch was done")
		}
	}
}
