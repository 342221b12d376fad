package kafkasource

import (
	"errors"
	"fmt"
	"slices"
)

// What a source says when it stops
//
// A source stops by committing the positions of what was processed. That
// commit can fail (the broker is down), and partitions can have been lost
// before it (the group session expired while the broker was away) or
// revoked with a commit that failed. The stop log says which partitions
// committed where, and which processed records' offsets were not
// committed and why: those records are read again by whoever gets the
// partition next.

// uncommitted is a partition whose processed records' offsets are not
// all committed.
type uncommitted struct {
	processed int64 // offset after the last processed record
	committed int64 // last position committed, -1 none
	cause     error
}

// errLost is the cause of a lost partition's uncommitted offsets.
var errLost = errors.New("partition lost: the group session ended (the broker was unreachable or the member was fenced) before the offsets could be committed")

// errRevokedInTxn is the cause of the uncommitted offsets of a partition
// revoked under exactly-once: the open transaction aborts.
var errRevokedInTxn = errors.New("partition revoked during a transaction, which aborts: its next owner processes the records again, and readers with read_committed never see this member's outputs of them")

// leaveUncommitted records, for the partitions in only whose processed
// position is ahead of their committed one, that their offsets were not
// committed, and why. Called with mu held, before the partitions are
// forgotten.
func (s *Source) leaveUncommitted(only map[topicPartition]bool, cause error) {
	for tp := range only {
		p := s.parts[tp]
		if p == nil || p.done <= p.committed {
			continue
		}
		if s.uncommitted == nil {
			s.uncommitted = map[topicPartition]uncommitted{}
		}
		s.uncommitted[tp] = uncommitted{processed: p.done, committed: p.committed, cause: cause}
	}
}

// stopReport returns, after the final commit (whose error is err), the
// committed positions of the partitions whose processed records are all
// committed, and a line for each partition whose processed records are
// not, as "topic/partition processed=N committed=M: cause".
func (s *Source) stopReport(err error) (committed, notCommitted []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		err = errors.New("no commit was attempted")
	}
	for tp, p := range s.parts {
		switch {
		case p.done > p.committed:
			notCommitted = append(notCommitted, uncommittedLine(tp, p.done, p.committed, err))
		case p.committed >= 0:
			committed = append(committed, fmt.Sprintf("%s/%d=%d", tp.topic, tp.partition, p.committed))
		}
	}
	for tp, u := range s.uncommitted {
		if p := s.parts[tp]; p != nil && p.committed >= u.processed {
			continue // assigned again and committed past it since
		}
		notCommitted = append(notCommitted, uncommittedLine(tp, u.processed, u.committed, u.cause))
	}
	slices.Sort(committed)
	slices.Sort(notCommitted)
	return committed, notCommitted
}

func uncommittedLine(tp topicPartition, processed, committed int64, cause error) string {
	c := "none"
	if committed >= 0 {
		c = fmt.Sprint(committed)
	}
	return fmt.Sprintf("%s/%d processed=%d committed=%s: %v", tp.topic, tp.partition, processed, c, cause)
}

// logStop logs how the source stopped: every processed record's offset
// committed, or which were not and why.
func (s *Source) logStop(err error) {
	committed, notCommitted := s.stopReport(err)
	if len(notCommitted) == 0 {
		s.log.Info("localrunner: kafka source stopped; offsets of every processed record committed", "positions", committed)
		return
	}
	s.log.Warn("localrunner: kafka source stopped; offsets of processed records NOT committed: those records will be read again",
		"not_committed", notCommitted, "committed", committed)
}
