package changelog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Result is what a Restore read.
type Result struct {
	// End is the partition's end offset when Restore began: it read every
	// record below it and none after.
	End int64
	// Epoch is the epoch of the task's last marker, if HasEpoch.
	Epoch    uint64
	HasEpoch bool
	// Tail holds the distinct keys of the ops after the task's last
	// marker, in the order first seen: an incomplete checkpoint, not
	// applied. The caller must write them again with their restored values
	// (see the package doc).
	Tail [][]byte
	// Records counts the task's records read: ops, applied or in the
	// tail, and markers.
	Records int
}

// Restore reads partition of topic from its start to its end offset at
// the call, and calls apply for the ops of every complete checkpoint of
// the task whose marker key is marker, in log order: a tombstone is an Op
// with Delete set. Records whose key does not begin with prefix belong to
// other tasks and are skipped; marker must begin with prefix. An error of
// apply ends the Restore and is returned.
//
// Restore makes a client of its own from opts (seed brokers, TLS, SASL,
// logger: connection options) and consumes the partition directly, with
// no consumer group, from its log start offset (compaction may have
// removed the first offsets). It reads uncommitted records and keeps
// control records, so that transaction markers at the end of the log
// count as read. It returns at once when the partition holds no record.
// ctx bounds the whole Restore, connection retries included: give it a
// deadline.
//
// With kgo.FetchIsolationLevel(kgo.ReadCommitted()) in opts (a changelog
// written by NewTxnWriter), Restore reads up to the last stable offset
// instead, and only the records of committed transactions: the state of
// an aborted transaction is never applied. It then waits, as any
// read_committed reader, for a transaction open at that offset to end.
func Restore(ctx context.Context, opts []kgo.Opt, topic string, partition int32, prefix, marker []byte, apply func(Op) error) (Result, error) {
	if err := checkRestore(topic, partition, prefix, marker, apply); err != nil {
		return Result{}, err
	}
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return Result{}, fmt.Errorf("changelog: restore %s[%d]: %w", topic, partition, err)
	}
	defer cl.Close()
	if g, _ := cl.OptValue(kgo.ConsumerGroup).(string); g != "" {
		return Result{}, fmt.Errorf("changelog: restore %s[%d]: opts name consumer group %q: Restore reads without one", topic, partition, g)
	}
	r := &restorer{prefix: prefix, marker: marker, apply: apply}
	if err := r.read(ctx, cl, topic, partition); err != nil {
		return Result{}, fmt.Errorf("changelog: restore %s[%d]: %w", topic, partition, err)
	}
	return r.result(), nil
}

func checkRestore(topic string, partition int32, prefix, marker []byte, apply func(Op) error) error {
	var errs []error
	if topic == "" {
		errs = append(errs, errors.New("changelog: restore: empty topic"))
	}
	if partition < 0 {
		errs = append(errs, fmt.Errorf("changelog: restore: partition %d", partition))
	}
	if len(marker) == 0 || !bytes.HasPrefix(marker, prefix) {
		errs = append(errs, fmt.Errorf("changelog: restore: marker %q does not extend prefix %q", marker, prefix))
	}
	if apply == nil {
		errs = append(errs, errors.New("changelog: restore: nil apply"))
	}
	return errors.Join(errs...)
}

// restorer is the state of one Restore.
type restorer struct {
	prefix, marker []byte
	apply          func(Op) error

	end      int64
	epoch    uint64
	hasEpoch bool
	pending  []Op // the task's ops since its last marker
	records  int
}

// read consumes the partition up to its end offset at the call.
func (r *restorer) read(ctx context.Context, cl *kgo.Client, topic string, partition int32) error {
	level, _ := cl.OptValue(kgo.FetchIsolationLevel).(int8)
	committed := level == 1 // read_committed
	start, end, err := bounds(ctx, kadm.NewClient(cl), topic, partition, committed)
	if err != nil {
		return err
	}
	r.end = end
	for next := start; next < end; {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read up to offset %d of %d: %w", next, end, err)
		}
		if err := fetches.Err(); err != nil {
			return fmt.Errorf("read up to offset %d of %d: %w", next, end, err)
		}
		for rec := range fetches.RecordsAll() {
			if rec.Offset >= end {
				// Every offset before end was read or skipped (records
				// of aborted transactions, when read_committed).
				next = end
				break
			}
			next = rec.Offset + 1
			if err := r.add(rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// bounds returns the partition's log start and end offsets: its last
// stable offset, when committed.
func bounds(ctx context.Context, adm *kadm.Client, topic string, partition int32, committed bool) (start, end int64, err error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		start, err = offsetOf(starts, topic, partition)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("start offset: %w", err)
	}
	list := adm.ListEndOffsets
	if committed {
		list = adm.ListCommittedOffsets
	}
	ends, err := list(ctx, topic)
	if err == nil {
		end, err = offsetOf(ends, topic, partition)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("end offset: %w", err)
	}
	return start, end, nil
}

// add takes one record of the partition.
func (r *restorer) add(rec *kgo.Record) error {
	if rec.Attrs.IsControl() || !bytes.HasPrefix(rec.Key, r.prefix) {
		return nil
	}
	r.records++
	if !bytes.Equal(rec.Key, r.marker) {
		r.pending = append(r.pending, Op{Key: rec.Key, Value: rec.Value, Delete: rec.Value == nil})
		return nil
	}
	if len(rec.Value) != 8 {
		return fmt.Errorf("%w: marker at offset %d has a %d-byte value, not an 8-byte epoch", ErrCorrupt, rec.Offset, len(rec.Value))
	}
	for i, op := range r.pending {
		if err := r.apply(op); err != nil {
			return fmt.Errorf("apply the checkpoint of the marker at offset %d: %w", rec.Offset, err)
		}
		r.pending[i] = Op{}
	}
	r.pending = r.pending[:0]
	r.epoch, r.hasEpoch = binary.BigEndian.Uint64(rec.Value), true
	return nil
}

func (r *restorer) result() Result {
	res := Result{End: r.end, Epoch: r.epoch, HasEpoch: r.hasEpoch, Records: r.records}
	seen := make(map[string]bool, len(r.pending))
	for _, op := range r.pending {
		if !seen[string(op.Key)] {
			seen[string(op.Key)] = true
			res.Tail = append(res.Tail, op.Key)
		}
	}
	return res
}
