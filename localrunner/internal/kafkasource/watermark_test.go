package kafkasource

import (
	"reflect"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// wmSource is a source with two assigned partitions: p0 read up to its
// end with its newest record at 10 s, p1 with a backlog and its newest
// record at 3 s; 1 s of skew, idle after 100 ms.
func wmSource(t *testing.T, wallClock bool) (*Source, *partition, *partition) {
	t.Helper()
	rc := coder.LookupCustomCoder(reflect.TypeFor[kafka.Record]())
	s, err := New(Config{Read: &plan.KafkaRead{Config: kafka.ReadConfig{Group: "g", Topics: []string{"in"},
		MaxSkew: time.Second, IdleDelay: 100 * time.Millisecond, IdleWallClock: wallClock},
		Coder: coder.NewW(coder.CoderFrom(rc), coder.NewGlobalWindow())}})
	if err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(-time.Second)
	p0 := &partition{tp: topicPartition{"in", 0}, maxTS: mtime.FromMilliseconds(10_000), hwm: 5, next: 5, lastSeen: long, lastWM: mtime.MinTimestamp}
	p1 := &partition{tp: topicPartition{"in", 1}, maxTS: mtime.FromMilliseconds(3_000), hwm: 10, next: 5, lastSeen: long, lastWM: mtime.MinTimestamp}
	s.parts[p0.tp], s.parts[p1.tp] = p0, p1
	return s, p0, p1
}

// An idle partition keeps its time and is left out of the source's
// watermark; when every partition is idle, the minimum over all of them
// counts: what each has passed.
func TestWatermarkLeavesIdlePartitionsOut(t *testing.T) {
	s, p0, p1 := wmSource(t, false)
	if w, ok := s.watermark(); !ok || w != mtime.FromMilliseconds(2_000) {
		t.Errorf("with partition 1 behind: watermark %v (moved %v), want 2s (1 s after its skew)", w, ok)
	}
	if w := s.partitionWatermark(p0, time.Now()); w != mtime.FromMilliseconds(9_000) {
		t.Errorf("idle partition 0's own watermark %v, want 9s: its records, not the wall clock", w)
	}
	p1.next, p1.maxTS = 10, mtime.FromMilliseconds(20_000) // caught up, idle
	if w, ok := s.watermark(); !ok || w != mtime.FromMilliseconds(9_000) {
		t.Errorf("every partition idle: watermark %v (moved %v), want 9s, the minimum over them", w, ok)
	}
	p0.lastSeen = time.Now() // partition 0 busy again
	p0.hwm = 7
	if w, ok := s.watermark(); ok {
		t.Errorf("the watermark moved back to %v", w)
	}
}

// With IdleWallClock an idle partition counts as now minus the skew; after
// the end of input, as the end of time.
func TestWatermarkIdleWallClockAndEndOfInput(t *testing.T) {
	s, p0, _ := wmSource(t, true)
	now := time.Now()
	if w := s.partitionWatermark(p0, now); w != mtime.FromTime(now.Add(-time.Second)) {
		t.Errorf("idle partition with IdleWallClock: %v, want now minus the skew", w)
	}
	end := make(chan struct{})
	close(end)
	s.cfg.EndOfInput = end
	s.endSeen = now.Add(-2 * time.Second)
	if w := s.partitionWatermark(p0, now); w != mtime.MaxTimestamp {
		t.Errorf("idle partition after the end of input: %v, want the end of time", w)
	}
}
