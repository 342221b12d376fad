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

// saveQueues writes the elements queued at every stage into b, replacing
// those of the previous checkpoint, and returns how many it wrote.
func (e *engine) saveQueues(b *state.Batch) (elements int) {
	for _, s := range e.stages {
		prefix := slices.Clip(stateKey(state.NSQueue, s))
		b.DeletePrefix(prefix)
		i := int64(0)
		for _, q := range s.queue {
			if n := q.remaining(); n > 0 {
				b.Set(prefix.Int64(i), encodeQueued(q))
				i++
				elements += n
			}
		}
	}
	return elements
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
func restoreQueue(st *state.Store, s *stageState) (elements int, err error) {
	err = st.Scan(stateKey(state.NSQueue, s), func(k, v []byte) error {
		b, err := decodeQueued(v)
		if err != nil {
			return fmt.Errorf("localrunner: queued elements of %q at %q: %w", s.spec.Names[0], k, err)
		}
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
