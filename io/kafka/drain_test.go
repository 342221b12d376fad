package kafka

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Drain stops the reads of its group only, until its end is called, and
// waits for every partition read to be committed: a partition read past
// its commit keeps it waiting until ctx ends, and the error names it.
func TestDrainWaitsForCommitsOfItsGroup(t *testing.T) {
	st := &readState{readers: map[topicPartition]*partitionReader{}, commits: newCommitter("g", nil)}
	registerRead(st)
	defer unregisterRead(st)
	tp := topicPartition{"in", 3}
	st.readers[tp] = &partitionReader{tp: tp, next: 120}
	st.commits.done[tp] = 100

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r, end, err := Drain(ctx, "g")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "in[3] read to 120 committed 100") {
		t.Errorf("drain with a partition read past its commit: %v", err)
	}
	if !draining("g") || draining("other") {
		t.Errorf("draining g %v, other %v: want only g", draining("g"), draining("other"))
	}
	if len(r.Pending()) != 1 {
		t.Errorf("pending %v, want in[3]", r.Pending())
	}
	end()
	end() // idempotent
	if draining("g") {
		t.Error("g still draining after end")
	}

	st.commits.done[tp] = 120
	r, end, err = Drain(context.Background(), "g")
	defer end()
	if err != nil || len(r) != 1 || !r[0].Done() {
		t.Errorf("drain with everything committed: %v, %v", r, err)
	}
}
