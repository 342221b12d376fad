package kafkasource

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/localrunner/internal/shuffle"
	"github.com/twmb/franz-go/pkg/kgo"
)

// adjustOffsets takes the group's committed offsets of newly assigned
// partitions as their committed positions (so reports show them before
// this member commits), then applies Resume.
func (s *Source) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	s.mu.Lock()
	for t, ps := range offsets {
		for p, o := range ps {
			// Without a committed offset the client passes the reset
			// offset (negative: start or end).
			if at := o.EpochOffset().Offset; at >= 0 {
				if part := s.parts[topicPartition{t, p}]; part != nil && part.committed < at {
					part.committed = at
				}
			}
		}
	}
	s.mu.Unlock()
	if s.cfg.Resume != nil {
		var err error
		if offsets, err = s.resume(ctx, offsets); err != nil {
			return offsets, err
		}
	}
	s.mu.Lock()
	for t, ps := range offsets {
		for p, o := range ps {
			if part := s.parts[topicPartition{t, p}]; part != nil {
				part.adjusted, part.from = true, o.EpochOffset().Offset
			}
		}
	}
	s.mu.Unlock()
	return offsets, nil
}

// reading reports whether partition p of t is assigned and announced to
// the engine, and the offset after the last record handed on (or, before
// one, where reading was set to start).
func (s *Source) reading(t string, p int32) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	part := s.parts[topicPartition{t, p}]
	if part == nil || !part.announced || part.revoked {
		return 0, false
	}
	if part.next >= 0 {
		return part.next, true
	}
	return part.from, part.from >= 0
}

// announcements returns the news of partitions the engine has not had:
// those gone, then those assigned whose fetch offset is chosen.
func (s *Source) announcements() []PartitionEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PartitionEvent
	for _, tp := range s.gone {
		out = append(out, PartitionEvent{Topic: tp.topic, Partition: tp.partition, Gone: true})
	}
	s.gone = s.gone[:0]
	for _, p := range s.parts {
		if p.adjusted && !p.announced && !p.revoked {
			p.announced = true
			out = append(out, PartitionEvent{Topic: p.tp.topic, Partition: p.tp.partition, Assigned: true, Resumed: p.resumed})
		}
	}
	return out
}

// resume moves the fetch position of each assigned partition to the one
// the runner's durable state saved, when that is ahead of the group's
// committed offset. State behind the group means another member (or a
// lost state directory) moved on: the group wins and that is logged.
func (s *Source) resume(_ context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	for t, ps := range offsets {
		for p, o := range ps {
			if at, ok := s.reading(t, p); ok {
				// The client fetched offsets again for a partition this
				// member reads and the engine knows (seen with static
				// membership): go on where reading is; the engine's state
				// of it already covers what came before.
				ps[p] = kgo.NewOffset().At(at).WithEpoch(-1)
				continue
			}
			next, ok := s.cfg.Resume(t, p)
			if !ok {
				continue
			}
			// Without a committed offset the client passes the reset
			// offset (negative: start or end).
			if at := o.EpochOffset().Offset; at >= 0 && at > next {
				s.log.Warn("localrunner: the group committed past the saved state; reading from the group's offset", "topic", t, "partition", p, "committed", at, "saved", next)
				continue
			} else if at == next {
				s.mu.Lock()
				if part := s.parts[topicPartition{t, p}]; part != nil {
					part.resumed = true
					s.resumeMarks(part)
				}
				s.mu.Unlock()
				continue
			}
			ps[p] = kgo.NewOffset().At(next).WithEpoch(-1)
			// What precedes the saved position is processed or saved: it
			// is committable even if nothing more is ever read.
			s.mu.Lock()
			if part := s.parts[topicPartition{t, p}]; part != nil {
				part.done = max(part.done, next)
				part.resumed = true
				s.resumeMarks(part)
			}
			s.mu.Unlock()
			s.log.Info("localrunner: resuming from the saved state", "topic", t, "partition", p, "offset", next, "committed", o.EpochOffset().Offset)
		}
	}
	return offsets, nil
}

// newPartition is the state of partition tp, assigned at now, before
// anything is known of it.
func newPartition(tp topicPartition, now time.Time) *partition {
	return &partition{tp: tp, committed: -1, done: -1, from: -1, maxTS: mtime.MinTimestamp, lastWM: mtime.MinTimestamp,
		lastSeen: now, hwm: -1, start: -1, next: -1, marks: shuffle.NewMarks()}
}

func (s *Source) assigned(_ context.Context, _ *kgo.Client, tps map[string][]int32) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ps := range tps {
		for _, p := range ps {
			tp := topicPartition{t, p}
			s.parts[tp] = newPartition(tp, now)
		}
	}
	s.reassigned = true
	s.log.Info("localrunner: kafka partitions assigned", "partitions", tps)
}

// revoked stops feeding the partitions, waits up to RevokeTimeout for their
// in-flight batches (not those waiting in windows only), commits what is
// done and forgets them. Batches still in flight then are never committed
// by this member.
func (s *Source) revoked(ctx context.Context, cl *kgo.Client, tps map[string][]int32) {
	only := map[topicPartition]bool{}
	s.mu.Lock()
	for t, ps := range tps {
		for _, p := range ps {
			tp := topicPartition{t, p}
			if pt := s.parts[tp]; pt != nil {
				pt.revoked = true
				only[tp] = true
			}
		}
	}
	closing := s.closing
	s.mu.Unlock()
	if len(only) == 0 {
		return
	}
	deadline := time.Now().Add(s.cfg.RevokeTimeout)
	for !closing {
		s.mu.Lock()
		pending := 0
		for tp := range only {
			for _, b := range s.parts[tp].inflight {
				// A released batch waits in windows only: the partition's
				// watermark no longer moves, so waiting for it to be
				// acknowledged would only hold the rebalance up. Its
				// records are read again from the committed offset, or
				// resumed from the saved state.
				if !b.done && !b.released {
					pending++
				}
			}
		}
		closing = s.closing
		s.mu.Unlock()
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.cfg.Release != nil && !closing {
		for t, ps := range tps {
			s.cfg.Release(t, ps)
		}
	}
	if s.exactlyOnce() {
		// No commit outside a transaction: the session aborts the open
		// one, and the partitions' next owner reads from the last one
		// committed.
		s.mu.Lock()
		s.leaveUncommitted(only, errRevokedInTxn)
		s.mu.Unlock()
		s.forget(only)
		s.log.Info("localrunner: kafka partitions revoked; their open transaction aborts", "partitions", tps)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.commitParts(cctx, cl, only); err != nil {
		s.log.Warn("localrunner: commit of revoked kafka partitions failed", "error", err)
		s.mu.Lock()
		s.leaveUncommitted(only, fmt.Errorf("commit of the revoked partition failed: %w", err))
		s.mu.Unlock()
	}
	s.forget(only)
	s.log.Info("localrunner: kafka partitions revoked", "partitions", tps)
}

// lost forgets the partitions without committing: the group has moved on.
func (s *Source) lost(_ context.Context, _ *kgo.Client, tps map[string][]int32) {
	if len(tps) == 0 {
		return
	}
	only := map[topicPartition]bool{}
	for t, ps := range tps {
		for _, p := range ps {
			only[topicPartition{t, p}] = true
		}
	}
	s.mu.Lock()
	s.leaveUncommitted(only, errLost)
	s.mu.Unlock()
	s.forget(only)
	s.log.Warn("localrunner: kafka partitions lost", "partitions", tps)
}

func (s *Source) forget(tps map[topicPartition]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tp := range tps {
		p := s.parts[tp]
		if p == nil {
			continue
		}
		for _, b := range p.inflight {
			b.gone = true
		}
		if p.announced {
			s.gone = append(s.gone, tp)
		}
		delete(s.parts, tp)
	}
	s.reassigned = true
}
