package kafka

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPartitionTracker refuses runner-initiated splits but checkpoints at
// the next offset to read, estimating the end from the client's high-water
// mark.
func TestPartitionTracker(t *testing.T) {
	fn := &readFn{}
	rt, err := fn.CreateTracker(offsetrange.Restriction{Start: 10, End: math.MaxInt64})
	if err != nil {
		t.Fatal(err)
	}
	pr := &partitionReader{}
	pr.hwm.Store(20)
	rt.Rt.(*partitionTracker).end.bind(pr)
	for _, off := range []int64{10, 11, 13} {
		if !rt.TryClaim(off) {
			t.Fatalf("TryClaim(%d) = false", off)
		}
	}
	if _, rem := rt.GetProgress(); rem != 7 {
		t.Errorf("remaining %v, want 7 (high-water mark 20 - last claimed 13)", rem)
	}
	if _, res, _ := rt.TrySplit(0.5); res != nil {
		t.Errorf("TrySplit(0.5) gave residual %v, want none", res)
	}
	prim, res, err := rt.TrySplit(0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (offsetrange.Restriction{Start: 10, End: 14}); prim != want {
		t.Errorf("checkpoint primary %v, want %v", prim, want)
	}
	if want := (offsetrange.Restriction{Start: 14, End: math.MaxInt64}); res != want {
		t.Errorf("checkpoint residual %v, want %v", res, want)
	}
	if !rt.IsDone() {
		t.Error("primary not done after checkpoint")
	}
}

// TestWatermarkEstimator trails the newest timestamp by the skew and never
// goes back.
func TestWatermarkEstimator(t *testing.T) {
	base := time.UnixMilli(1_700_000_000_000)
	e := newWatermarkEstimator(base.UnixMilli(), time.Second)
	e.ObserveTimestamp(base.Add(3 * time.Second))
	if got, want := e.CurrentWatermark(), base.Add(2*time.Second); !got.Equal(want) {
		t.Errorf("watermark %v, want %v", got, want)
	}
	e.ObserveTimestamp(base.Add(time.Second)) // out of order: no effect
	e.advance(base)
	if got, want := e.CurrentWatermark(), base.Add(2*time.Second); !got.Equal(want) {
		t.Errorf("watermark went back to %v, want %v", got, want)
	}
	e.advance(base.Add(time.Minute))
	if got := e.state(); got != base.Add(time.Minute).UnixMilli() {
		t.Errorf("state %d, want %d", got, base.Add(time.Minute).UnixMilli())
	}
}

// TestCommitter commits the highest position noted per partition, and
// what is noted before close.
func TestCommitter(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	cm := newCommitter("g", opts)
	cm.note(topicPartition{"t", 0}, 5)
	cm.note(topicPartition{"t", 0}, 3) // lower: ignored
	cm.note(topicPartition{"t", 1}, 0)
	cm.note(topicPartition{"t", 1}, 7)
	cm.close()
	cm.close()
	cm.note(topicPartition{"t", 1}, 9) // after close: ignored

	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).FetchOffsets(context.Background(), "g")
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: 5, 1: 7} {
		if o, ok := resps.Lookup("t", p); !ok || o.At != want {
			t.Errorf("partition %d committed %+v, want %d", p, o, want)
		}
	}
}

// TestListPartitionsStrictOffsetReset starts a group whose committed
// offsets are outside the log (records deleted below one, the other past
// the end as after a topic is recreated): strict, the listing fails with
// ErrOffsetOutOfRange naming the offsets; not strict, StartOffset resets
// them.
func TestListPartitionsStrictOffsetReset(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for i := range 20 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Partition: int32(i % 2), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	var commit, del kadm.Offsets
	commit.Add(kadm.Offset{Topic: "t", Partition: 0, At: 2, LeaderEpoch: -1})
	commit.Add(kadm.Offset{Topic: "t", Partition: 1, At: 50, LeaderEpoch: -1}) // past the end of 10
	if _, err := adm.CommitOffsets(ctx, "g", commit); err != nil {
		t.Fatal(err)
	}
	del.Add(kadm.Offset{Topic: "t", Partition: 0, At: 6, LeaderEpoch: -1})
	if _, err := adm.DeleteRecords(ctx, del); err != nil {
		t.Fatal(err)
	}

	_, err = listPartitions(ctx, adm, []string{"t"}, "g", startPolicy{StartEarliest, true})
	t.Logf("strict: %v", err)
	if !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("strict listing: %v, want ErrOffsetOutOfRange", err)
	}
	for _, want := range []string{"list t[0]", "committed offset 2 of group \"g\" is outside the log [6, 10]", "list t[1]", "committed offset 50"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("strict listing error lacks %q: %v", want, err)
		}
	}
	for policy, want := range map[string][2]int64{StartEarliest: {6, 0}, StartLatest: {10, 10}} {
		descs, err := listPartitions(ctx, adm, []string{"t"}, "g", startPolicy{policy, false})
		if err != nil {
			t.Fatalf("%s, not strict: %v", policy, err)
		}
		if len(descs) != 2 || descs[0].Start != want[0] || descs[1].Start != want[1] {
			t.Errorf("%s, not strict: starts %+v, want %v", policy, descs, want)
		}
	}
	if got := resetOffset(StartEarliest, true); got != kgo.NoResetOffset() {
		t.Errorf("strict reset offset %v, want NoResetOffset", got)
	}
}
