package kafkasource

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

// Batch is the records of one poll of one partition, encoded as windowed
// values of the read's output PCollection.
type Batch struct {
	Data  []byte
	Ends  []int
	MinTS mtime.Time
	// First is the offset of the batch's first record.
	First int64
	// Marks are the partition's read state after the batch, saved with
	// the position after it (Config.ResumeMarks gives them back): for a
	// shuffle read its marks (shuffle.go), for a Kafka read the newest
	// record timestamp up to the batch's end (resumeTime).
	Marks []byte
	// maxTS is the newest timestamp of the batch's records.
	maxTS mtime.Time

	src        *Source
	part       *partition
	last       int64
	records    int
	bytes      int64
	done, gone bool
	released   bool // no longer counted in flight
}

// Release stops counting b in flight (MaxInflightRecords and
// MaxInflightBytes) before it is acknowledged: the engine calls it when
// what is left of b's work is elements buffered in windows, which wait for
// the watermark, not for downstream capacity. Counting them would stall
// the source (no new records, so no watermark progress, so no window
// firing) whenever a window holds more than the bound. Release does not
// make b committable; only Ack does. It is called at most once, by the
// engine's owner goroutine, and does not block.
func (b *Batch) Release() {
	s := b.src
	s.mu.Lock()
	defer s.mu.Unlock()
	b.release()
}

// release uncounts b from the in-flight bounds. Called with mu held.
func (b *Batch) release() {
	if b.released {
		return
	}
	b.released = true
	s := b.src
	s.inflightN -= b.records
	s.inflightB -= b.bytes
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Position returns the partition of b's records and the offset after its
// last record.
func (b *Batch) Position() (topic string, partition int32, next int64) {
	return b.part.tp.topic, b.part.tp.partition, b.last + 1
}

// Ack marks b processed downstream. It is called once, by the engine's
// owner goroutine, and does not block.
func (b *Batch) Ack() {
	s := b.src
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.done {
		return
	}
	b.done = true
	b.release()
	if s.txn != nil {
		s.txn.open--
	}
	if b.gone {
		return // its partition was revoked or lost meanwhile
	}
	s.ackedSince += b.records
	p := b.part
	for len(p.inflight) > 0 && p.inflight[0].done {
		p.done = p.inflight[0].last + 1
		p.inflight[0] = nil
		p.inflight = p.inflight[1:]
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
