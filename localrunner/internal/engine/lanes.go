package engine

import (
	"bytes"
	"hash/maphash"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
)

// lane is one key lane of a stateful stage.
type lane struct {
	queued int
	busy   bool
}

// idleLane returns a lane of a stateful stage with queued elements and no
// bundle in flight, or -1.
func (s *stageState) idleLane() int {
	for i, l := range s.lanes {
		if !l.busy && l.queued > 0 {
			return i
		}
	}
	return -1
}

// enqueueLanes queues a batch for a stateful stage with several lanes: its
// elements are copied into one batch per lane by the hash of their encoded
// key, each holding the batch's references, without the windows that had
// expired (s.late); it returns how many windows it dropped.
func (s *stageState) enqueueLanes(b *batch) (dropped int) {
	n := len(s.lanes)
	parts := make([]*batch, n)
	var r bytes.Reader
	start := 0
	if b.next > 0 {
		start = b.ends[b.next-1]
	}
	for _, end := range b.ends[b.next:] {
		elm := b.data[start:end]
		start = end
		l := 0
		r.Reset(elm)
		if ws, ts, pane, err := exec.DecodeWindowedValueHeader(s.wdec, &r); err == nil {
			body := elm[len(elm)-r.Len():]
			if s.late != nil {
				kept, expired, ok := s.late.judge(ws, ts, pane, body, b.arrival)
				dropped += expired
				if !ok {
					continue
				}
				if kept != nil {
					elm = kept
				}
			}
			if kn, err := s.keyLen(body); err == nil {
				l = int(maphash.Bytes(laneSeed, body[:kn]) % uint64(n))
			}
		} // else the SDK fails on it, in lane 0
		p := parts[l]
		if p == nil {
			p = &batch{hold: b.hold, fins: b.fins, arrival: b.arrival, lane: l}
			parts[l] = p
		}
		p.data = append(p.data, elm...)
		p.ends = append(p.ends, len(p.data))
	}
	first := true
	for _, p := range parts {
		if p == nil {
			continue
		}
		if !first { // the caller counted one reference per batch
			for _, f := range p.fins {
				f.refs++
			}
		}
		first = false
		s.lanes[p.lane].queued += len(p.ends)
		s.queue = append(s.queue, p)
		s.queued += len(p.ends)
	}
	if first { // no element left: an empty batch, as a single lane would queue it
		b.data, b.ends, b.next = nil, nil, 0
		s.queue = append(s.queue, b)
	}
	return dropped
}

// laneSeed spreads keys over lanes, the same way for the whole process.
var laneSeed = maphash.MakeSeed()
