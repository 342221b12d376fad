package kafkasource

import (
	"encoding/binary"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

// The newest record timestamp of a Kafka read is its partition's time
// (watermark.go): a partition resumed from saved state must get it back
// with the position. Without it, a partition whose records were all read
// before the checkpoint has no time after the restore (nothing more
// comes to move it), and, idle like the others at the end of the input,
// holds the watermark of its task (and of every shuffle partition its
// task writes to) below the windows its last records filled: they never
// close. Each batch carries the partition's newest timestamp up to its
// end in Batch.Marks; the engine saves them with the position and
// Config.ResumeMarks gives them back.

// markTimes advances p's newest record timestamp over batches, in offset
// order, and, when the run saves read state, gives each batch the time up
// to its end. Called with mu held.
func (s *Source) markTimes(p *partition, batches []*Batch) {
	for _, b := range batches {
		p.maxTS = max(p.maxTS, b.maxTS)
		if s.cfg.ResumeMarks != nil {
			b.Marks = binary.AppendVarint(nil, int64(p.maxTS))
		}
	}
}

// resumeTime gives a Kafka read's partition resumed from the saved state
// the newest record timestamp saved with the position (marks, from
// markTimes). Called with mu held.
func (s *Source) resumeTime(p *partition, marks []byte) {
	v, n := binary.Varint(marks)
	if n <= 0 || n != len(marks) {
		s.log.Error("localrunner: the saved time of a partition is unreadable; its watermark starts over", "topic", p.tp.topic, "partition", p.tp.partition)
		return
	}
	p.maxTS = max(p.maxTS, mtime.Time(v))
}
