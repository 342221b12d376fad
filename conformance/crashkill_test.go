package conformance_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/internal/childtest"
)

// Helpers of the crash tests: where a topic ends, what it holds, how far
// a group lags, and a kill that says whether it landed while records
// were moving.

// endSum is the sum of topic's end offsets (its records, for a topic
// never trimmed), or -1 when they cannot be listed.
func endSum(ctx context.Context, adm *kadm.Client, topic string) int64 {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return -1
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
	return sum
}

// readTopic reads every record topic holds now, from its start.
func readTopic(ctx context.Context, t *testing.T, adm *kadm.Client, addr, topic string) []*kgo.Record {
	t.Helper()
	total := endSum(ctx, adm, topic)
	if total < 0 {
		t.Fatalf("the end offsets of %s cannot be listed", topic)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for int64(len(recs)) < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of the %d records of %s: %v", len(recs), total, topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	return recs
}

// lag is how many records of topic group has not committed yet.
func lag(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string) int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	offs, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		err = nil // no member has joined yet: nothing committed
	}
	if err != nil {
		t.Fatalf("offsets of group %s: %v", group, err)
	}
	var sum int64
	ends.Each(func(o kadm.ListedOffset) {
		at := int64(0)
		if c, ok := offs.Lookup(o.Topic, o.Partition); ok && c.At > 0 {
			at = c.At
		}
		sum += o.Offset - at
	})
	return sum
}

// killWhileMoving kills child with SIGKILL, failing t if it had ended by
// itself, and reports whether the kill landed while records were moving:
// group still had input of topic to commit when the process died. (A
// dead process commits nothing, so the lag read after the kill is the
// lag at the kill.)
func killWhileMoving(ctx context.Context, t *testing.T, child *childtest.Child, adm *kadm.Client, group, topic string) bool {
	t.Helper()
	if child.Exited() {
		t.Fatalf("pipeline process ended by itself (exit %d):\n%s", child.ExitCode(), child.Stderr())
	}
	child.Stop(t) // SIGKILL
	left := lag(ctx, t, adm, group, topic)
	if left == 0 {
		t.Logf("a kill landed after the process had committed all its input")
	}
	return left > 0
}

// waitGroupEmpty waits until the group has no member left: the session of
// a killed member expired, so the next process is assigned every
// partition at once.
//
// The windowed crash tests (killLoop) wait for this between kills
// because a process that starts while a dead member still holds
// partitions gets some partitions first and judges the others' backlog
// late when they come: issue 14 (time and state per partition) is that
// defect, and its own test piles kills inside one session timeout.
func waitGroupEmpty(ctx context.Context, t *testing.T, adm *kadm.Client, group string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		gs, err := adm.DescribeGroups(ctx, group)
		if err == nil {
			if g, ok := gs[group]; ok && g.Err == nil && len(g.Members) == 0 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("group %s still has members a minute after the last process was killed", group)
}

// readCommitted reads topic from its start as a consumer of an
// exactly-once pipeline does (isolation.level=read_committed), until it
// has at least want records and nothing more came for a second, or
// nothing came for five seconds.
func readCommitted(ctx context.Context, t *testing.T, addr, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	quiet := 0
	for (len(recs) < want && quiet < 5) || quiet < 1 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			t.Fatalf("read %d records of %s: %v", len(recs), topic, ctx.Err())
		}
		k := 0
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsTransactional() {
				t.Errorf("%s/%d@%d was written outside a transaction", r.Topic, r.Partition, r.Offset)
			}
			recs = append(recs, r)
			k++
		})
		if k == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return recs
}
