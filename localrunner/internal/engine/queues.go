package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/state"
)

// A checkpoint does not wait for the queues between stages to drain: it
// waits for the bundles and grouping tasks in flight to finish (no new one
// starts meanwhile), then saves, beside the state, every element still
// queued, with its batch's hold and arrival. Elements queued are outputs of
// records before the saved source positions that no stage has processed
// yet; a restored run queues them again before its sources start, so
// they are processed once from the checkpoint on, as the rest of their
// records' effects are in the saved state. Their Kafka batches are not
// acknowledged until a later checkpoint follows their processing.
//
// A checkpoint writes only what changed in a queue since the last one: a
// batch queued since, or one a bundle took part of, is written under its
// id; a batch gone is deleted; one untouched is left as it is. Under a
// backlog a queue holds tens of thousands of elements, and writing them
// all at every checkpoint (and to the changelog) was a quarter of the
// runner's CPU. A queue's order is its ids' order: batches are only
// appended, and get their ids in queue order when first saved.

// saveQueues writes into b what changed in the queues of every stage
// since the last checkpoint, and returns how many elements are queued.
func (e *engine) saveQueues(b *state.Batch) (elements int, err error) {
	for _, s := range e.stages {
		n, err := s.saveQueue(b)
		elements += n
		if err != nil {
			return elements, err
		}
	}
	return elements, nil
}

// saveQueue writes into b what changed in s's queue since the last
// checkpoint, and returns how many elements are queued.
func (s *stageState) saveQueue(b *state.Batch) (elements int, err error) {
	prefix := slices.Clip(stateKey(state.NSQueue, s))
	live := make(map[int64]bool, len(s.queue))
	for _, q := range s.queue {
		n := q.remaining()
		if n == 0 {
			continue
		}
		elements += n
		if len(q.vals) > 0 {
			if err := s.encodeValues(q); err != nil {
				return elements, err
			}
		}
		if q.qid == 0 {
			s.lastQ++
			q.qid = s.lastQ
		} else if q.savedNext == q.next {
			live[q.qid] = true
			continue // saved as it is
		}
		b.Set(prefix.Int64(q.qid), encodeQueued(q))
		q.savedNext = q.next
		live[q.qid] = true
	}
	for id := range s.savedQ {
		if !live[id] {
			b.Delete(prefix.Int64(id))
		}
	}
	s.savedQ = live
	return elements, nil
}

// restoreQueues queues at each stage the elements the last checkpoint
// saved there, in their order.
func (e *engine) restoreQueues(st *state.Store) (elements int, err error) {
	for _, s := range e.stages {
		n, err := restoreQueue(st, s)
		elements += n
		if err != nil {
			return elements, err
		}
	}
	return elements, nil
}

// restoreQueue queues at s the elements the last checkpoint saved there.
// The batches restored are new to the next checkpoint, which deletes
// them under their old ids.
func restoreQueue(st *state.Store, s *stageState) (elements int, err error) {
	prefix := stateKey(state.NSQueue, s)
	err = st.Scan(prefix, func(k, v []byte) error {
		id := state.Read(k[len(prefix):]).Int64()
		b, err := decodeQueued(v)
		if err != nil {
			return fmt.Errorf("localrunner: queued elements of %q at %q: %w", s.spec.Names[0], k, err)
		}
		if s.savedQ == nil {
			s.savedQ = map[int64]bool{}
		}
		s.savedQ[id], s.lastQ = true, max(s.lastQ, id)
		elements += b.remaining()
		s.enqueueArrived(b)
		return nil
	})
	return elements, err
}

// encodeQueued encodes the elements of q not yet taken: hold and arrival
// (varints), the element count and lengths (uvarints), then the elements.
func encodeQueued(q *batch) []byte {
	start := q.start()
	data := q.data[start:q.ends[len(q.ends)-1]]
	out := make([]byte, 0, len(data)+2*binary.MaxVarintLen64+binary.MaxVarintLen64*(1+q.remaining()))
	out = binary.AppendVarint(out, int64(q.hold))
	out = binary.AppendVarint(out, int64(q.arrival))
	out = binary.AppendUvarint(out, uint64(q.remaining()))
	prev := start
	for _, end := range q.ends[q.next:] {
		out = binary.AppendUvarint(out, uint64(end-prev))
		prev = end
	}
	return append(out, data...)
}

var errQueuedEncoding = errors.New("bad encoding")

// decodeQueued decodes what encodeQueued wrote; the batch has no bundle
// references (its records' acknowledgements ended with the run that
// queued it).
func decodeQueued(v []byte) (*batch, error) {
	hold, n := binary.Varint(v)
	if n <= 0 {
		return nil, errQueuedEncoding
	}
	v = v[n:]
	arrival, n := binary.Varint(v)
	if n <= 0 {
		return nil, errQueuedEncoding
	}
	v = v[n:]
	count, n := binary.Uvarint(v)
	if n <= 0 || count > uint64(len(v)) {
		return nil, errQueuedEncoding
	}
	v = v[n:]
	b := &batch{hold: mtime.Time(hold), arrival: mtime.Time(arrival), ends: make([]int, 0, count)}
	end := uint64(0)
	for range count {
		l, n := binary.Uvarint(v)
		if n <= 0 {
			return nil, errQueuedEncoding
		}
		v = v[n:]
		end += l
		b.ends = append(b.ends, int(end))
	}
	if end != uint64(len(v)) {
		return nil, errQueuedEncoding
	}
	b.data = slices.Clone(v) // v is the store's, valid during the scan only
	return b, nil
}
