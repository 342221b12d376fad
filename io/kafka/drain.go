package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Draining the reads of this process
//
// The read commits the start of each restriction it resumes (readFn), so
// its commits trail reading by one call. Cancelling a job therefore
// leaves the offsets of the last calls uncommitted: a new job re-reads
// them (with prism in process, SIGTERM after the last output once left
// the group 86% behind). Drain ends that when the job's DoFns run in this
// process (prism in process, or any runner with the LOOPBACK
// environment): reads stop fetching and hand their restrictions back at
// once, the runner finishes the bundles in flight (their writes
// included) and resumes the residuals, whose first act is to commit
// their start; Drain waits for those commits. Then the job can be
// cancelled with nothing read left uncommitted.

// reads is every readState of this process, and the groups whose reads
// Drain stopped.
var reads = struct {
	mu       sync.Mutex
	states   map[*readState]struct{}
	stopped  map[string]int // group -> Drains not ended
	nStopped atomic.Int32   // len(stopped), read without mu
}{states: map[*readState]struct{}{}, stopped: map[string]int{}}

func registerRead(st *readState) {
	reads.mu.Lock()
	defer reads.mu.Unlock()
	reads.states[st] = struct{}{}
}

func unregisterRead(st *readState) {
	reads.mu.Lock()
	defer reads.mu.Unlock()
	delete(reads.states, st)
}

// draining reports whether Drain stopped the reads of group.
func draining(group string) bool {
	if group == "" || reads.nStopped.Load() == 0 {
		return false
	}
	reads.mu.Lock()
	defer reads.mu.Unlock()
	return reads.stopped[group] > 0
}

func stopReads(group string) (end func()) {
	reads.mu.Lock()
	defer reads.mu.Unlock()
	reads.stopped[group]++
	reads.nStopped.Store(int32(len(reads.stopped)))
	var once sync.Once
	return func() {
		once.Do(func() {
			reads.mu.Lock()
			defer reads.mu.Unlock()
			if reads.stopped[group]--; reads.stopped[group] <= 0 {
				delete(reads.stopped, group)
			}
			reads.nStopped.Store(int32(len(reads.stopped)))
		})
	}
}

// PartitionDrain is what Drain found of one partition: the offset after
// the last record read and the offset committed to the group.
type PartitionDrain struct {
	Topic     string
	Partition int32
	Read      int64
	Committed int64 // -1: none
}

// Done reports whether everything read was committed.
func (p PartitionDrain) Done() bool { return p.Committed >= p.Read }

// DrainReport is what Drain found, one entry per partition read in this
// process, in topic and partition order.
type DrainReport []PartitionDrain

// Pending is the partitions whose reads are not all committed.
func (r DrainReport) Pending() DrainReport {
	var out DrainReport
	for _, p := range r {
		if !p.Done() {
			out = append(out, p)
		}
	}
	return out
}

// String lists each partition's read and committed offsets.
func (r DrainReport) String() string {
	var b strings.Builder
	for i, p := range r {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s[%d] read to %d committed %d", p.Topic, p.Partition, p.Read, p.Committed)
	}
	return b.String()
}

// Drain stops the reads of group in this process from fetching and
// waits until the offsets of everything they read are committed to the
// group, or ctx ends. The reads stay stopped until end is called, which
// the caller does once the job is cancelled (a later job of the process
// may read the group again). It works only where the job's DoFns run in
// this process. The report says where each partition stands; the error
// says which are not committed when ctx ended first.
func Drain(ctx context.Context, group string) (r DrainReport, end func(), err error) {
	end = stopReads(group)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		r, busy := drainState(group)
		if !busy && len(r.Pending()) == 0 {
			return r, end, nil
		}
		select {
		case <-ctx.Done():
			return r, end, fmt.Errorf("kafka: drain of group %s: %d partitions not committed (%s): %w", group, len(r.Pending()), r.Pending(), context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// drainState is where every partition of group read in this process
// stands, and whether a read is still fetching.
func drainState(group string) (DrainReport, bool) {
	reads.mu.Lock()
	states := make([]*readState, 0, len(reads.states))
	for st := range reads.states {
		states = append(states, st)
	}
	reads.mu.Unlock()
	read := map[topicPartition]int64{}
	committed := map[topicPartition]int64{}
	busy := false
	for _, st := range states {
		if st.commits == nil || st.commits.group != group {
			continue
		}
		b := st.positions(read)
		busy = busy || b
		st.commits.committed(committed)
	}
	r := make(DrainReport, 0, len(read))
	for tp, next := range read {
		c, ok := committed[tp]
		if !ok {
			c = -1
		}
		r = append(r, PartitionDrain{Topic: tp.topic, Partition: tp.partition, Read: next, Committed: c})
	}
	slices.SortFunc(r, func(a, b PartitionDrain) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return r, busy
}

// positions raises read[tp] to the offset after the last record st's
// readers read of tp, and reports whether one of them is fetching. A
// reader in use is only counted as busy: its ProcessElement owns next
// until release, which hands it back under mu.
func (st *readState) positions(read map[topicPartition]int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	busy := false
	for tp, pr := range st.readers {
		if pr.inUse {
			busy = true
			continue
		}
		if pr.next >= 0 {
			read[tp] = max(read[tp], pr.next)
		}
	}
	return busy
}

// committed raises into[tp] to the offsets c committed.
func (c *committer) committed(into map[topicPartition]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for tp, off := range c.done {
		if cur, ok := into[tp]; !ok || off > cur {
			into[tp] = off
		}
	}
}
