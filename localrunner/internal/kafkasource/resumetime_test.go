package kafkasource

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Each batch's Marks carry the partition's newest timestamp up to the
// batch's end, not the batch's own newest: a batch of older records
// after a newer one must not save a time behind what was read.
func TestMarkTimesCarryThePartitionsTime(t *testing.T) {
	s, p0, _ := wmSource(t, false)
	s.cfg.ResumeMarks = func(string, int32) []byte { return nil }
	p0.maxTS = mtime.FromMilliseconds(4_000)
	bs := []*Batch{{maxTS: mtime.FromMilliseconds(5_000)}, {maxTS: mtime.FromMilliseconds(3_000)}, {maxTS: mtime.FromMilliseconds(8_000)}}
	s.markTimes(p0, bs)
	for i, want := range []int64{5_000, 5_000, 8_000} {
		v, n := binary.Varint(bs[i].Marks)
		if n <= 0 || mtime.Time(v) != mtime.FromMilliseconds(want) {
			t.Errorf("batch %d: saved time %v, want %v", i, mtime.Time(v), mtime.FromMilliseconds(want))
		}
	}
	if p0.maxTS != mtime.FromMilliseconds(8_000) {
		t.Errorf("partition time %v after the batches, want 8s", p0.maxTS)
	}
}

// A partition resumed at its saved position gets its time back, so that,
// read to its end before the checkpoint, it does not hold the watermark
// at the minimum (or at a task's older time) once idle: the windows its
// last records filled close. A partition read from the group's offset
// (the saved state is behind it) starts without a time.
func TestResumedPartitionGetsItsTimeBack(t *testing.T) {
	s, _, _ := wmSource(t, false)
	clear(s.parts)
	saved := binary.AppendVarint(nil, int64(mtime.FromMilliseconds(10_000)))
	s.cfg.Resume = func(_ string, p int32) (int64, bool) { return 5, true }
	s.cfg.ResumeMarks = func(string, int32) []byte { return saved }
	long := time.Now().Add(-time.Second)
	for p := range int32(2) {
		part := newPartition(topicPartition{"in", p}, long)
		part.hwm = 5
		s.parts[part.tp] = part
	}
	offsets := map[string]map[int32]kgo.Offset{"in": {0: kgo.NewOffset().At(5), 1: kgo.NewOffset().At(7)}}
	if _, err := s.resume(context.Background(), offsets); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p0, p1 := s.parts[topicPartition{"in", 0}], s.parts[topicPartition{"in", 1}]
	p0.next, p1.next = 5, 7
	if w := s.partitionWatermark(p0, now); w != mtime.FromMilliseconds(9_000) {
		t.Errorf("resumed partition's watermark %v, want 9s (its saved time less 1s of skew)", w)
	}
	if w := s.partitionWatermark(p1, now); w != mtime.MinTimestamp {
		t.Errorf("partition read from the group's offset: watermark %v, want none", w)
	}
}
