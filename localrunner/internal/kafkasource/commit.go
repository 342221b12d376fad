package kafkasource

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// commit commits, for each assigned partition, its committable position if
// it moved.
func (s *Source) commit(ctx context.Context, cl *kgo.Client) error {
	return s.commitParts(ctx, cl, nil)
}

// commitParts commits the partitions in only (all when nil).
func (s *Source) commitParts(ctx context.Context, cl *kgo.Client, only map[topicPartition]bool) error {
	// CommitRecords commits each record's offset plus one, synchronously,
	// and returns the first error; the records only carry positions.
	var recs []*kgo.Record
	var moved []*partition
	var pos []int64
	s.mu.Lock()
	s.ackedSince = 0
	for tp, p := range s.parts {
		if (only != nil && !only[tp]) || (only == nil && p.revoked) || p.done <= p.committed {
			continue
		}
		recs = append(recs, &kgo.Record{Topic: tp.topic, Partition: tp.partition, Offset: p.done - 1, LeaderEpoch: -1})
		moved = append(moved, p)
		pos = append(pos, p.done)
	}
	s.mu.Unlock()
	if len(moved) == 0 {
		return nil
	}
	start := time.Now()
	err := cl.CommitRecords(ctx, recs...)
	if f := s.cfg.Committed; f != nil {
		f(CommitEvent{Group: s.cfg.Read.Config.Group, Partitions: len(moved), Elapsed: time.Since(start), Err: err})
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	for i, p := range moved {
		p.committed = max(p.committed, pos[i])
	}
	s.mu.Unlock()
	s.log.Debug("localrunner: kafka offsets committed", "partitions", len(moved))
	return nil
}
