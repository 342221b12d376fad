package engine

import (
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"

	"github.com/streams-dev/streams/localrunner/internal/group"
)

// Batches with values: a stage whose DoFn hands its KVs over as Go values
// for a combining GroupByKey (plan.EncodedOutput.Values) delivers them in
// batch.vals, and the GroupByKey's grouping task adds them as they are
// (group.Input.Values). Only a checkpoint that finds such a batch still
// queued encodes its values (encodeValues), since queues are saved
// encoded.

// encodeValues turns q's values into encoded elements after its own, so
// that q can be saved: a new buffer, since q's data may be shared with
// other readers.
func (s *stageState) encodeValues(q *batch) error {
	if s.spec.Group == nil {
		return fmt.Errorf("localrunner: values queued at %s, which does not group", s.spec.ID)
	}
	if s.valWenc == nil {
		s.valWenc = exec.MakeWindowEncoder(s.spec.Group.Coder.Window)
	}
	start := q.start()
	data := append([]byte(nil), q.data[start:start+encodedLen(q)]...)
	ends := make([]int, 0, q.remaining())
	for _, end := range q.ends[q.next:] {
		ends = append(ends, end-start)
	}
	var err error
	for i := range q.vals {
		if data, err = group.AppendValue(data, s.valWenc, q.enc, &q.vals[i], nil); err != nil {
			return fmt.Errorf("localrunner: saving the queue of %s: %w", s.spec.ID, err)
		}
		ends = append(ends, len(data))
	}
	q.data, q.ends, q.next, q.vals, q.enc = data, ends, 0, nil, nil
	return nil
}

// encodedLen is the length of q's encoded elements not yet taken.
func encodedLen(q *batch) int {
	if q.next == len(q.ends) {
		return 0
	}
	return q.ends[len(q.ends)-1] - q.start()
}
