package kafka_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/io/kafka"
)

func init() {
	register.Function1x1(toDefaultTopic)
}

// toDefaultTopic clears a record's topic, so that Write sends it to its
// configured topic.
func toDefaultTopic(r kafka.Record) kafka.Record {
	r.Topic = ""
	return r
}

// testRecords are n records spread over the partitions, each with a
// distinct key, value, headers and millisecond timestamp.
func testRecords(prefix string, n int, partitions int32, base time.Time) []*kgo.Record {
	var rs []*kgo.Record
	for i := range n {
		r := &kgo.Record{
			Topic:     "in",
			Partition: int32(i) % partitions,
			Key:       fmt.Appendf(nil, "%s-%02d", prefix, i),
			Value:     fmt.Appendf(nil, "value %d", i),
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
			Headers:   []kgo.RecordHeader{{Key: "n", Value: fmt.Appendf(nil, "%d", i)}, {Key: "empty", Value: []byte{}}},
		}
		if i%5 == 0 {
			r.Headers = nil
		}
		rs = append(rs, r)
	}
	return rs
}

func sameRecord(t *testing.T, got, want *kgo.Record) {
	t.Helper()
	if !bytes.Equal(got.Value, want.Value) {
		t.Errorf("%s: value %q, want %q", want.Key, got.Value, want.Value)
	}
	if !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("%s: timestamp %v, want %v", want.Key, got.Timestamp, want.Timestamp)
	}
	if len(got.Headers) != len(want.Headers) {
		t.Errorf("%s: headers %v, want %v", want.Key, got.Headers, want.Headers)
		return
	}
	for i := range got.Headers {
		if got.Headers[i].Key != want.Headers[i].Key || !bytes.Equal(got.Headers[i].Value, want.Headers[i].Value) {
			t.Errorf("%s: headers %v, want %v", want.Key, got.Headers, want.Headers)
		}
	}
}

// copyAndCheck copies cfg to topic "out" until the keys of want have
// arrived in "out" and the group's commits have reached the end of "in",
// then checks that exactly want arrived, each record intact.
func copyAndCheck(t *testing.T, cfg kafka.ReadConfig, want []*kgo.Record) {
	t.Helper()
	j := start(t, pipelineSpec{Copy: &cfg, Out: "out"})
	consume(t, j, cfg.Client, "out", len(want), time.Minute, 0)
	waitCommitted(t, cfg.Client, cfg.Group, endOffsets(t, cfg.Client, "in"), 30*time.Second)
	got := consume(t, j, cfg.Client, "out", len(want), time.Minute, time.Second)
	j.stop(t)
	if g, w := keys(got), keys(want); !slices.Equal(g, w) {
		t.Fatalf("got keys %v, want %v", g, w)
	}
	byKey := map[string]*kgo.Record{}
	for _, r := range got {
		byKey[string(r.Key)] = r
	}
	for _, w := range want {
		sameRecord(t, byKey[string(w.Key)], w)
	}
}

// TestStartOffsetLatest starts a group without commits at the end of the
// partitions: records produced before the read started are not read, those
// produced after are, and the group commits the end.
func TestStartOffsetLatest(t *testing.T) {
	t.Parallel()
	const parts = 3
	cfg := cluster(t, parts, "in", "out")
	base := time.UnixMilli(1_700_000_000_000)
	produce(t, cfg, testRecords("old", 9, parts, base)...)

	rc := kafka.ReadConfig{Client: cfg, Topics: []string{"in"}, Group: "g"} // StartOffset defaults to latest
	j := start(t, pipelineSpec{Copy: &rc, Out: "out"})
	// The read commits where it starts: once the commits are there, it has
	// started, at the end of the old records.
	waitCommitted(t, cfg, "g", map[int32]int64{0: 3, 1: 3, 2: 3}, time.Minute)
	fresh := testRecords("new", 6, parts, base.Add(time.Minute))
	produce(t, cfg, fresh...)
	got := consume(t, j, cfg, "out", len(fresh), time.Minute, 0)
	waitCommitted(t, cfg, "g", map[int32]int64{0: 5, 1: 5, 2: 5}, 30*time.Second)
	got = consume(t, j, cfg, "out", len(got), time.Minute, time.Second)
	j.stop(t)
	if g, w := keys(got), keys(fresh); !slices.Equal(g, w) {
		t.Fatalf("got keys %v, want %v", g, w)
	}
}

// TestReadWrite copies a topic with Read and Write, from the start of the
// partitions (StartOffset earliest, no commits yet): every record arrives
// once with its key, value, headers and timestamp, and the group's
// committed offsets reach the end of the input.
func TestReadWrite(t *testing.T) {
	t.Parallel()
	const parts = 3
	cfg := cluster(t, parts, "in", "out")
	in := testRecords("k", 30, parts, time.UnixMilli(1_700_000_000_000))
	produce(t, cfg, in...)
	copyAndCheck(t, kafka.ReadConfig{Client: cfg, Topics: []string{"in"}, Group: "g", StartOffset: kafka.StartEarliest}, in)
}

// TestResumeFromCommittedOffset reads from the group's committed offsets,
// not from StartOffset: records before a commit are not read again.
func TestResumeFromCommittedOffset(t *testing.T) {
	t.Parallel()
	const parts = 3
	cfg := cluster(t, parts, "in", "out")
	in := testRecords("k", 30, parts, time.UnixMilli(1_700_000_000_000))
	produce(t, cfg, in...)
	commits := map[int32]int64{0: 4, 1: 7, 2: 10} // partition 2 is fully read
	offs := make(kadm.Offsets)
	for p, o := range commits {
		offs.Add(kadm.Offset{Topic: "in", Partition: p, At: o, LeaderEpoch: -1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := kadm.NewClient(client(t, cfg)).CommitAllOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	var want []*kgo.Record
	for i, r := range in { // record i is at offset i/parts of partition i%parts
		if int64(i/parts) >= commits[r.Partition] {
			want = append(want, r)
		}
	}
	copyAndCheck(t, kafka.ReadConfig{Client: cfg, Topics: []string{"in"}, Group: "g", StartOffset: kafka.StartEarliest}, want)
}

// TestReadWithoutGroup reads per StartOffset and commits nothing.
func TestReadWithoutGroup(t *testing.T) {
	t.Parallel()
	cfg := cluster(t, 1, "in", "out")
	in := testRecords("k", 5, 1, time.UnixMilli(1_700_000_000_000))
	produce(t, cfg, in...)
	j := start(t, pipelineSpec{Copy: &kafka.ReadConfig{Client: cfg, Topics: []string{"in"}, StartOffset: kafka.StartEarliest}, Out: "out"})
	got := consume(t, j, cfg, "out", len(in), time.Minute, 500*time.Millisecond)
	j.stop(t)
	if len(got) != len(in) {
		t.Fatalf("got %d records, want %d", len(got), len(in))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	groups, err := kadm.NewClient(client(t, cfg)).ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 0 {
		t.Errorf("groups %v exist, want none", groups.Groups())
	}
}

// TestStartOffsetError fails the pipeline when the group has no commit
// and StartOffset is "error", saying which partition.
func TestStartOffsetError(t *testing.T) {
	t.Parallel()
	cfg := cluster(t, 1, "in", "out")
	j := start(t, pipelineSpec{Copy: &kafka.ReadConfig{Client: cfg, Topics: []string{"in"}, Group: "g", StartOffset: kafka.StartError}, Out: "out"})
	err := j.wait(t, time.Minute)
	if !errContains(err, "kafka: list in[0]: no committed offset") {
		t.Fatalf("pipeline error %v, want it to say that in[0] has no committed offset", err)
	}
}

// TestReadUnknownTopic fails the pipeline when a topic does not exist.
func TestReadUnknownTopic(t *testing.T) {
	t.Parallel()
	cfg := cluster(t, 1, "in", "out")
	j := start(t, pipelineSpec{Copy: &kafka.ReadConfig{Client: cfg, Topics: []string{"in", "nope"}, Group: "g"}, Out: "out"})
	err := j.wait(t, time.Minute)
	if !errContains(err, "kafka: list nope: UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("pipeline error %v, want it to name the unknown topic", err)
	}
}
