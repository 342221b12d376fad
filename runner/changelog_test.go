package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// A partition task's state travels through its changelog: a process killed
// with records waiting in a window, replaced by one on an empty state
// directory, restores the window from the changelog topic and resumes
// reading after what the window holds, so the window's count is whole and
// nothing is counted twice.
func TestTaskStateRestoredOnAnEmptyDisk(t *testing.T) {
	h := newLateRun(t, lateSpec{Partitioned: true, StateDir: t.TempDir()})
	h.produce("ada", 1*time.Second)
	h.produce("ada", 4*time.Second) // [0, 10 s) holds 2
	h.start()
	topic := "late-clicks-changelog"
	adm := kadm.NewClient(h.cl)
	waitFor(t, h.child, 30*time.Second, "a checkpoint of the window in the changelog", func() bool {
		ends, err := adm.ListEndOffsets(h.ctx, topic)
		if err != nil {
			return false
		}
		o, ok := ends.Lookup(topic, 0)
		return ok && o.Err == nil && o.Offset > 1
	})
	h.child.Stop(t) // SIGKILL

	h.s.StateDir = t.TempDir() // another machine: an empty disk
	h.start()
	h.produce("ada", 6*time.Second)
	h.produce("ada", 12*time.Second) // closes [0, 10 s)
	h.wait("the first window", func() bool { return len(h.out) >= 1 })
	rs := h.results()
	if !strings.Contains(rs[0], `"value":3`) {
		t.Errorf("first window %s, want a count of 3 (2 restored, 1 new; 5 would be the restored ones read again)", rs[0])
	}
	stderr := h.child.Stderr()
	if !strings.Contains(stderr, "resuming from the saved state") || !strings.Contains(stderr, "partition state restored") {
		t.Errorf("the new process did not restore the partition from its changelog:\n%s", stderr)
	}
	if len(h.dlq) > 0 {
		t.Errorf("%d dlq records, want none", len(h.dlq))
	}
}
