package localrunner_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

// TestKafkaNativeStrictOffsetReset runs the native source for a group
// whose committed offsets fell below the log start (records deleted): with
// StrictOffsetReset the run fails with kafka.ErrOffsetOutOfRange; without,
// StartOffset (earliest) resets the partitions to the log start and every
// record still kept is read.
func TestKafkaNativeStrictOffsetReset(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	produce(t, cl, "v", 20) // offsets 0-9 in each partition
	ctx := context.Background()
	var commit, del kadm.Offsets
	for p := range int32(2) {
		commit.Add(kadm.Offset{Topic: "in", Partition: p, At: 2, LeaderEpoch: -1})
		del.Add(kadm.Offset{Topic: "in", Partition: p, At: 6, LeaderEpoch: -1})
	}
	if _, err := adm.CommitOffsets(ctx, "g", commit); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteRecords(ctx, del); err != nil {
		t.Fatal(err)
	}

	t.Run("strict", func(t *testing.T) {
		rc := readConfig(c, "g")
		rc.StrictOffsetReset = true
		r, err := localrunner.New()
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		_, err = r.Run(rctx, kafkaPipeline(rc, 0, t.Name()))
		t.Logf("Run: %v", err)
		if !errors.Is(err, kafka.ErrOffsetOutOfRange) || !strings.Contains(err.Error(), "topic in partition") {
			t.Fatalf("Run: %v, want kafka.ErrOffsetOutOfRange naming the partition", err)
		}
		if n := countRecords(t.Name()); n != 0 {
			t.Errorf("%d records read, want none", n)
		}
		if cm := commits(ctx, adm, "g"); cm[0] != 2 || cm[1] != 2 {
			t.Errorf("committed %v, want the old offsets 2 kept", cm)
		}
	})
	t.Run("reset", func(t *testing.T) {
		key := t.Name()
		stop := runUntil(t, kafkaPipeline(readConfig(c, "g"), 0, key), localrunner.WithKafkaCommit(50*time.Millisecond, 1))
		waitFor(t, "the kept records", time.Minute, func() bool { return countRecords(key) >= 8 })
		if err := stop(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v, want context.Canceled", err)
		}
		pos, vals := positions(t, values(takeRecords(key)))
		if len(vals) != 8 {
			t.Errorf("%d records read, want 8 (offsets 6-9 of both partitions): %v", len(vals), pos)
		}
		for p, offs := range pos {
			for o := range offs {
				if o < 6 {
					t.Errorf("partition %d offset %d read, below the log start 6", p, o)
				}
			}
		}
	})
}

// TestKafkaNativeStartOffsetError runs the native source with
// auto_offset_reset "error" for a group without commits: the run fails
// naming the partition rather than starting anywhere.
func TestKafkaNativeStartOffsetError(t *testing.T) {
	c, cl, _ := kafkaCluster(t)
	produce(t, cl, "v", 4)
	rc := readConfig(c, "nocommits")
	rc.StartOffset = kafka.StartError
	r, err := localrunner.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = r.Run(ctx, kafkaPipeline(rc, 0, t.Name()))
	t.Logf("Run: %v", err)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "topic in partition") {
		t.Fatalf("Run: %v, want a failure naming the partition before the deadline", err)
	}
	if n := countRecords(t.Name()); n != 0 {
		t.Errorf("%d records read, want none", n)
	}
}
