package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// CreateTopic creates topic with partitions partitions.
func CreateTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, topic)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if resp.Err != nil {
		return fmt.Errorf("create topic %s: %w", topic, resp.Err)
	}
	return nil
}

// Records is the number of records in topic: the sum over its partitions
// of end minus start offset.
func Records(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return 0, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(o.Topic, o.Partition)
		n += o.Offset - s.Offset
	})
	return n, nil
}

// Committed is how many records of topic group has committed (the sum of
// its committed offsets; the topic starts at offset 0).
func Committed(ctx context.Context, adm *kadm.Client, group, topic string) (int64, error) {
	offsets, err := CommittedOffsets(ctx, adm, group, topic)
	var n int64
	for _, o := range offsets {
		n += o
	}
	return n, err
}

// CommittedOffsets is group's committed offset in each partition of
// topic, the offset of the next record to read; partitions without a
// commit are missing.
func CommittedOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	resp, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = resp.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) { // not joined yet
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	offsets := make(map[int32]int64)
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.At > 0 {
			offsets[o.Partition] = o.At
		}
	})
	return offsets, nil
}

// CommittedRecords counts the records of topic a reader with
// isolation.level=read_committed sees: those of committed transactions
// (and those written outside transactions), without the transactions'
// control records or what aborted transactions wrote.
func CommittedRecords(ctx context.Context, brokers []string, topic string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var n int64
	for quiet := 0; quiet < 2; {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k := int64(fs.NumRecords())
		if n += k; k == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return n, nil
}
