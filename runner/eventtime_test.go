package runner

import (
	"strings"
	"testing"
	"time"
)

// Event time that means what the pipeline says (issue 14, item 5).

// With dsl.WithEventTime, the watermark follows the payload's event times,
// not the record timestamps: payload times an hour behind the records'
// give the windows record timestamps would, and nothing is late.
func TestPayloadEventTimeDrivesTheWatermark(t *testing.T) {
	h := newLateRun(t, lateSpec{PayloadTime: true})
	h.produce("ada", 1*time.Second)
	h.produce("ada", 4*time.Second)
	h.produce("ada", 12*time.Second) // closes [0, 10 s) by payload time
	h.start()
	h.wait("the first window", func() bool { return len(h.out) >= 1 || len(h.dlq) > 0 })
	// The record timestamps are an hour ahead: by them, these are late.
	h.produce("ada", 13*time.Second)
	h.produce("ada", 25*time.Second) // closes [10 s, 20 s), not [20 s, 30 s)
	h.wait("the second window", func() bool { return len(h.out) >= 2 || len(h.dlq) > 0 })
	rs := h.results()
	if len(h.dlq) != 0 || len(rs) != 2 ||
		!strings.Contains(rs[0], `"start":"2026-01-01T00:00:00Z"`) || !strings.Contains(rs[0], `"value":2`) ||
		!strings.Contains(rs[1], `"start":"2026-01-01T00:00:10Z"`) || !strings.Contains(rs[1], `"value":2`) {
		t.Errorf("results %q with %d dlq records; want [0, 10 s) of 2 and [10 s, 20 s) of 2, none late", rs, len(h.dlq))
	}
}

// A partition that sits idle keeps its time: records produced later with
// timestamps older than the wall clock, but not older than what the
// partition already passed, are counted in their windows, not late.
func TestIdlePartitionKeepsItsTime(t *testing.T) {
	h := newLateRun(t, lateSpec{})
	h.produce("ada", 1*time.Second)
	h.produce("ada", 12*time.Second) // closes [0, 10 s)
	h.start()
	h.wait("the first window", func() bool { return len(h.out) >= 1 })
	time.Sleep(500 * time.Millisecond) // idle: 5 times watermark_idle_ms
	h.produce("ada", 13*time.Second)
	h.produce("ada", 25*time.Second) // closes [10 s, 20 s)
	h.wait("the second window", func() bool { return len(h.out) >= 2 || len(h.dlq) > 0 })
	rs := h.results()
	if len(h.dlq) != 0 || len(rs) != 2 || !strings.Contains(rs[1], `"value":2`) {
		t.Errorf("results %q with %d dlq records; want [10 s, 20 s) of 2 (12 s and 13 s), none late", rs, len(h.dlq))
	}
}

// A message late for the 3 sliding windows it belongs to makes one
// dead-letter record, not one per window.
func TestLateSlidingMessageDeadLetteredOnce(t *testing.T) {
	h := newLateRun(t, lateSpec{Sliding: true})
	h.produce("ada", 1*time.Second)
	h.produce("ada", 45*time.Second) // closes every window holding 1 s
	h.start()
	h.wait("the windows of 1 s", func() bool { return len(h.out) >= 3 })
	h.produce("ada", 2*time.Second)  // late for [-20 s, 10 s), [-10 s, 20 s), [0, 30 s)
	h.produce("ada", 75*time.Second) // closes the windows of 45 s, after the late one
	h.wait("the windows of 45 s and the late message", func() bool { return len(h.out) >= 6 && len(h.dlq) >= 1 })
	// The dead-letter records of one drop are written together; give any
	// more of them time to arrive.
	deadline := time.Now().Add(time.Second)
	h.wait("more dead-letter records", func() bool { return time.Now().After(deadline) })
	if len(h.dlq) != 1 {
		t.Errorf("%d dlq records of the late message, want 1", len(h.dlq))
	}
}
