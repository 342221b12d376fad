package shuffle

import (
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
)

func TestTakeDropsWhatAWriterWroteBefore(t *testing.T) {
	m := NewMarks()
	a := Upstream{"in", 0}
	for n := uint64(1); n <= 3; n++ {
		if !m.Take(Seq{From: a, Gen: 7, N: n}) {
			t.Fatalf("record %d of a new writer dropped", n)
		}
	}
	// The writer restarted from a checkpoint at 1: 2 and 3 again, then 4.
	for n, want := range map[uint64]bool{2: false, 3: false} {
		if got := m.Take(Seq{From: a, Gen: 7, N: n}); got != want {
			t.Errorf("record %d again: taken %v, want %v", n, got, want)
		}
	}
	if !m.Take(Seq{From: a, Gen: 7, N: 4}) {
		t.Error("record 4 dropped")
	}
	// Another upstream task numbers on its own.
	if !m.Take(Seq{From: Upstream{"in", 1}, Gen: 7, N: 1}) {
		t.Error("the first record of another upstream task dropped")
	}
	// A writer without saved state starts a new generation: taken.
	if !m.Take(Seq{From: a, Gen: 8, N: 1}) {
		t.Error("a new generation's first record dropped")
	}
}

func TestWatermarkWaitsForEveryUpstreamTask(t *testing.T) {
	m := NewMarks()
	m.Mark(Mark{From: Upstream{"in", 0}, Total: 3, Watermark: 100})
	m.Mark(Mark{From: Upstream{"in", 1}, Total: 3, Watermark: 50})
	if w := m.Watermark(); w != mtime.MinTimestamp {
		t.Fatalf("watermark with 2 of 3 upstream tasks heard: %v, want none", w)
	}
	m.Mark(Mark{From: Upstream{"in", 2}, Total: 3, Watermark: 70})
	if w := m.Watermark(); w != 50 {
		t.Fatalf("watermark %v, want the minimum 50", w)
	}
	m.Mark(Mark{From: Upstream{"in", 1}, Total: 3, Watermark: 20, Idle: true})
	if w := m.Watermark(); w != 70 {
		t.Errorf("watermark with task 1 idle %v, want 70 (idle left out; its time never moves back: 50)", w)
	}
	m.Mark(Mark{From: Upstream{"in", 0}, Total: 3, Watermark: 100, Idle: true})
	m.Mark(Mark{From: Upstream{"in", 2}, Total: 3, Watermark: 70, Idle: true})
	if w := m.Watermark(); w != 50 {
		t.Errorf("watermark with every task idle %v, want the minimum over all, 50", w)
	}
}

func TestMarksSurviveACheckpoint(t *testing.T) {
	m := NewMarks()
	m.Take(Seq{From: Upstream{"in", 0}, Gen: 3, N: 9})
	m.Mark(Mark{From: Upstream{"in", 0}, Total: 2, Watermark: -5})
	m.Mark(Mark{From: Upstream{"other", 1}, Total: 2, Watermark: 40, Idle: true})
	enc := m.Encode()
	got, err := DecodeMarks(enc)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Encode()) != string(enc) {
		t.Fatalf("decoded marks encode differently")
	}
	if got.Take(Seq{From: Upstream{"in", 0}, Gen: 3, N: 9}) {
		t.Error("a record taken before the checkpoint was taken again")
	}
	if w := got.Watermark(); w != -5 {
		t.Errorf("watermark %v, want -5", w)
	}
	if _, err := DecodeMarks(enc[:len(enc)-1]); err == nil {
		t.Error("a truncated encoding decoded")
	}
}

func TestHeadersRoundTrip(t *testing.T) {
	s := Seq{From: Upstream{"events", 12}, Gen: 1 << 60, N: 77}
	if got, err := DecodeSeq(AppendSeq(nil, s)); err != nil || got != s {
		t.Errorf("seq %+v: got %+v, %v", s, got, err)
	}
	k := Mark{From: Upstream{"events", 3}, Total: 16, Watermark: mtime.MinTimestamp, Idle: true}
	if got, err := DecodeMark(AppendMark(nil, k)); err != nil || got != k {
		t.Errorf("mark %+v: got %+v, %v", k, got, err)
	}
	if p := Partition([]byte("key"), 8); p != Partition([]byte("key"), 8) || p < 0 || p >= 8 {
		t.Errorf("partition %d", p)
	}
}
