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
