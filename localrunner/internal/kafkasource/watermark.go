package kafkasource

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

// watermark returns the source's watermark when it moved: the minimum over
// assigned partitions of the newest record timestamp minus MaxSkew, where a
// partition without a record for IdleDelay counts as now minus MaxSkew.
// Without partitions it holds.
func (s *Source) watermark() (mtime.Time, bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := mtime.MaxTimestamp
	n := 0
	for _, p := range s.parts {
		if p.revoked {
			continue
		}
		n++
		w = min(w, s.partitionWatermark(p, now))
	}
	if n == 0 || w <= s.lastWM {
		return 0, false
	}
	s.lastWM = w
	return w, true
}

// partitionWatermark is p's part of the source watermark: its newest
// record timestamp minus MaxSkew, or now minus MaxSkew once it has been
// idle for IdleDelay. Idle means caught up with nothing new since: read up
// to the high-water mark of its last fetch, and no fetched record waiting
// in the client (it could be p's). A partition with a backlog is not idle
// because the source stopped polling (over its in-flight bounds; the idle
// clocks stop meanwhile) or because the client handed out other
// partitions' records first: moving its watermark to now would make its
// backlog late. Called with mu held.
func (s *Source) partitionWatermark(p *partition, now time.Time) mtime.Time {
	if !s.pausedAt.IsZero() {
		now = s.pausedAt // idle clocks stop during a pause
	}
	rc := s.cfg.Read.Config
	pw := mtime.MinTimestamp
	if p.maxTS > mtime.MinTimestamp {
		pw = mtime.FromTime(p.maxTS.ToTime().Add(-rc.MaxSkew))
	}
	// A partition that never returned a record is caught up only if a
	// probe found it empty: its first fetch may just be slow.
	caughtUp := (p.hwm >= 0 && p.next >= p.hwm || p.hwm < 0 && p.empty) && (s.buffered == nil || s.buffered() == 0)
	if caughtUp && now.Sub(p.lastSeen) >= rc.IdleDelay {
		pw = max(pw, mtime.FromTime(now.Add(-rc.MaxSkew)))
	}
	return pw
}

// partitionWatermarks returns the watermarks of the partitions whose
// watermark moved since the last call (announced partitions only: the
// engine learns of a partition before its watermark).
func (s *Source) partitionWatermarks() []PartitionEvent {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PartitionEvent
	for _, p := range s.parts {
		if p.revoked || !p.announced {
			continue
		}
		if w := s.partitionWatermark(p, now); w > p.lastWM {
			p.lastWM = w
			out = append(out, PartitionEvent{Topic: p.tp.topic, Partition: p.tp.partition, Watermark: w})
		}
	}
	return out
}
