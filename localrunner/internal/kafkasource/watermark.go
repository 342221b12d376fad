package kafkasource

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

// Watermarks
//
// A partition's watermark is its newest record timestamp minus MaxSkew:
// it moves with the partition's own records only. A partition is idle
// when it is caught up and nothing new came for IdleDelay (idle). An
// idle partition keeps its time, and is left out of the source's
// watermark (the minimum over the others), as Flink's withIdleness does;
// with IdleWallClock it follows now minus MaxSkew instead, the behaviour
// a user may choose so that windows close without traffic. After the end
// of input (Config.EndOfInput) an idle partition's watermark is the end
// of time: the development loop's bounded input is over.

// watermark returns the source's watermark when it moved: the minimum over
// the assigned partitions that are not idle (over all of them with
// IdleWallClock or after the end of input), or, when every one is idle,
// over all of them: what each has passed. Without partitions it holds.
func (s *Source) watermark() (mtime.Time, bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	busy, all := mtime.MaxTimestamp, mtime.MaxTimestamp
	nBusy, n := 0, 0
	skipIdle := !s.cfg.Read.Config.IdleWallClock && !s.ended(now)
	for _, p := range s.parts {
		if p.revoked {
			continue
		}
		pw := s.partitionWatermark(p, now)
		n, all = n+1, min(all, pw)
		if !skipIdle || !s.idle(p, now) {
			nBusy, busy = nBusy+1, min(busy, pw)
		}
	}
	w := busy
	if nBusy == 0 {
		w = all
	}
	if n == 0 || w <= s.lastWM {
		return 0, false
	}
	s.lastWM = w
	return w, true
}

// partitionWatermark is p's watermark: its newest record timestamp minus
// MaxSkew; once idle, now minus MaxSkew with IdleWallClock, and the end
// of time after the end of input. Called with mu held.
func (s *Source) partitionWatermark(p *partition, now time.Time) mtime.Time {
	if s.cfg.Read.Shuffle {
		return p.marks.Watermark() // the writers' (shuffle.go)
	}
	rc := s.cfg.Read.Config
	pw := mtime.MinTimestamp
	if p.maxTS > mtime.MinTimestamp {
		pw = mtime.FromTime(p.maxTS.ToTime().Add(-rc.MaxSkew))
	}
	if !s.idle(p, now) {
		return pw
	}
	if s.ended(now) {
		return mtime.MaxTimestamp
	}
	if rc.IdleWallClock {
		pw = max(pw, mtime.FromTime(s.idleClock(now).Add(-rc.MaxSkew)))
	}
	return pw
}

// idle reports whether p is caught up with nothing new since IdleDelay.
// Caught up means read up to the high-water mark of its last fetch, and
// no fetched record waiting in the client (it could be p's). A partition
// with a backlog is not idle because the source stopped polling (over its
// in-flight bounds; the idle clocks stop meanwhile) or because the client
// handed out other partitions' records first. Called with mu held.
func (s *Source) idle(p *partition, now time.Time) bool {
	// A partition that never returned a record is caught up only if a
	// probe found it empty: its first fetch may just be slow.
	caughtUp := (p.hwm >= 0 && p.next >= p.hwm || p.hwm < 0 && p.empty) && (s.buffered == nil || s.buffered() == 0)
	return caughtUp && s.idleClock(now).Sub(p.lastSeen) >= s.cfg.Read.Config.IdleDelay
}

// idleClock is now, or when the source paused: idle clocks stop during a
// pause.
func (s *Source) idleClock(now time.Time) time.Time {
	if !s.pausedAt.IsZero() {
		return s.pausedAt
	}
	return now
}

// ended reports whether the input ended (Config.EndOfInput closed) at
// least max(IdleDelay, 1s) ago: records produced before the end have
// been fetched by then. Called with mu held.
func (s *Source) ended(now time.Time) bool {
	if s.cfg.EndOfInput == nil {
		return false
	}
	select {
	case <-s.cfg.EndOfInput:
	default:
		return false
	}
	if s.endSeen.IsZero() {
		s.endSeen = now
	}
	return now.Sub(s.endSeen) >= max(s.cfg.Read.Config.IdleDelay, time.Second)
}

// partitionWatermarks returns the news of the partitions whose watermark
// moved or that became idle or busy since the last call (announced
// partitions only: the engine learns of a partition before its time).
func (s *Source) partitionWatermarks() []PartitionEvent {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PartitionEvent
	for _, p := range s.parts {
		if p.revoked || !p.announced {
			continue
		}
		w, idle := s.partitionWatermark(p, now), s.idle(p, now)
		if w <= p.lastWM && idle == p.idleSent {
			continue
		}
		p.lastWM, p.idleSent = max(w, p.lastWM), idle
		out = append(out, PartitionEvent{Topic: p.tp.topic, Partition: p.tp.partition, Watermark: p.lastWM, Idle: idle})
	}
	return out
}
