package changelog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Op is one change of a task's state: Value set for Key, or Key deleted.
type Op struct {
	Key, Value []byte
	// Delete makes the op a tombstone (a null value); Value is ignored.
	Delete bool
}

// Writer appends task checkpoints to one changelog topic, through a
// client the caller owns.
//
// # Ownership and locks
//
// Append runs on the caller's goroutine and produces the ops of a task's
// first checkpoint there. franz-go's promise goroutine reports the acks.
// Once a checkpoint's ops are all acknowledged, a goroutine of its own
// produces its marker (a promise must not call a blocking Produce), and
// the checkpoint after it of the same task starts on another. mu guards
// the task table and the Close state; it is never held across a Produce
// or a done call.
type Writer struct {
	cl    Producer
	topic string

	mu       sync.Mutex
	tasks    map[taskID]*task
	inflight int           // Appends accepted whose done has not returned
	closed   bool          // Close has begun: Append refuses
	idle     chan struct{} // made by Close, closed once inflight is 0
}

// taskID names a task: the changelog partition and its marker key.
type taskID struct {
	partition int32
	marker    string
}

// task is what the Writer keeps of a task between Appends.
type task struct {
	busy    bool            // a checkpoint of the task is in flight
	queue   []*checkpoint   // Appends waiting for the one in flight, in order
	carry   []Op            // copies of the ops of failed Appends, written again first
	waiters []chan struct{} // Waits, closed when the task is no longer busy
}

// checkpoint is one Append.
type checkpoint struct {
	id     taskID
	marker []byte
	epoch  uint64
	ops    []Op // once started: the task's carried ops, then the Append's
	done   func(end int64, err error)

	pending atomic.Int64 // ops not yet acknowledged
	mu      sync.Mutex
	err     error // the first op that failed
}

// NewWriter returns a Writer appending to topic through cl.
//
// cl must produce idempotently (the default: without it a retry could
// reorder or repeat a task's ops), must not be transactional (Append
// produces outside transactions), and must send a changelog record to the
// partition in its Partition field: make it with
// kgo.RecordPartitioner(kgo.ManualPartitioner()), or with
// kgo.RecordPartitioner(Partitioner(other, topic)) when it produces to
// other topics too. NewWriter checks all three. cl needs no
// DefaultProduceTopic: every record names topic. The Writer never closes
// cl.
func NewWriter(cl *kgo.Client, topic string) (*Writer, error) {
	if cl == nil {
		return nil, errors.New("changelog: new writer: nil client")
	}
	var errs []error
	if topic == "" {
		errs = append(errs, errors.New("changelog: new writer: empty topic"))
	}
	if v := cl.OptValues(kgo.TransactionalID); len(v) == 2 && v[1] == true {
		errs = append(errs, fmt.Errorf("changelog: new writer: the client is transactional (id %v): Append produces outside transactions", v[0]))
	}
	if v, _ := cl.OptValue(kgo.DisableIdempotentWrite).(bool); v {
		errs = append(errs, errors.New("changelog: new writer: the client does not produce idempotently: a retry could reorder or repeat a task's ops"))
	}
	if p, _ := cl.OptValue(kgo.RecordPartitioner).(kgo.Partitioner); !isManual(p, topic) {
		errs = append(errs, fmt.Errorf("changelog: new writer: the client's partitioner does not send a record of %q to its Partition field: use kgo.RecordPartitioner(kgo.ManualPartitioner()) or changelog.Partitioner", topic))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Writer{cl: cl, topic: topic, tasks: make(map[taskID]*task)}, nil
}

// Producer produces records: a kgo.Client, or a transactional session
// (kgo.GroupTransactSession) through which the records commit or abort
// with the session's transaction.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

// NewTxnWriter returns a Writer appending to topic through p, a
// transactional producer: the ops and markers of an Append commit or
// abort with p's transaction, so a reader with isolation.level
// read_committed (Restore with such opts) sees only the checkpoints of
// committed transactions. p must send a changelog record to the
// partition in its Partition field (Partitioner) and produce
// idempotently, as transactional producers do.
func NewTxnWriter(p Producer, topic string) (*Writer, error) {
	var errs []error
	if p == nil {
		errs = append(errs, errors.New("changelog: new writer: nil producer"))
	}
	if topic == "" {
		errs = append(errs, errors.New("changelog: new writer: empty topic"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Writer{cl: p, topic: topic, tasks: make(map[taskID]*task)}, nil
}

// Append produces the ops of one checkpoint of a task to partition, in
// order, then the task's commit marker (key marker, value epoch as 8 bytes
// big-endian) once every op is acknowledged. It calls done once, with the
// offset after the marker (the partition's end after this checkpoint) and
// a nil error, or with -1 and an *AppendError when a record failed, in
// which case no marker was written.
//
// marker is a key the caller reserves for the task: no op of the task may
// have it. Checkpoints of one task are written one after another in the
// order of their Appends: an Append while the task has one in flight waits
// for it. The ops of a failed Append are written again, from copies, at
// the start of the task's next Append, so a later checkpoint that
// succeeds holds every change since the last one that did (see Forget).
//
// Append does not wait for acks; it blocks only while franz-go's buffer
// is full (kgo.MaxBufferedRecords, MaxBufferedBytes). done is called from
// a franz-go goroutine, possibly before Append returns, and must not
// block. The Writer reads ops and their bytes until done is called.
//
// Append returns an error, and does not call done, when it refuses the
// checkpoint: a negative partition, an empty marker, an op with an empty
// key or the marker's key, a nil done, or a Writer Close has begun on.
func (w *Writer) Append(partition int32, marker []byte, epoch uint64, ops []Op, done func(end int64, err error)) error {
	if err := checkAppend(partition, marker, ops, done); err != nil {
		return err
	}
	c := &checkpoint{id: taskID{partition, string(marker)}, marker: marker, epoch: epoch, ops: ops, done: done}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.inflight++
	t := w.tasks[c.id]
	if t == nil {
		t = new(task)
		w.tasks[c.id] = t
	}
	if t.busy {
		t.queue = append(t.queue, c)
		w.mu.Unlock()
		return nil
	}
	t.busy = true
	t.take(c)
	w.mu.Unlock()
	w.start(c)
	return nil
}

func checkAppend(partition int32, marker []byte, ops []Op, done func(int64, error)) error {
	var errs []error
	if partition < 0 {
		errs = append(errs, fmt.Errorf("changelog: append: partition %d", partition))
	}
	if len(marker) == 0 {
		errs = append(errs, errors.New("changelog: append: empty marker"))
	}
	if done == nil {
		errs = append(errs, errors.New("changelog: append: nil done"))
	}
	for i, op := range ops {
		switch {
		case len(op.Key) == 0:
			errs = append(errs, fmt.Errorf("changelog: append: op %d has an empty key", i))
		case bytes.Equal(op.Key, marker):
			errs = append(errs, fmt.Errorf("changelog: append: op %d has the marker's key %q", i, marker))
		}
	}
	return errors.Join(errs...)
}

// Forget drops the copies of failed Appends' ops the Writer would write
// again before the task's next checkpoint. Call it when the task leaves
// this process, and before its first Append after a Restore: an old
// failure's ops written after a newer owner's checkpoints would bring
// back values they replaced. Appends in flight or queued are unaffected.
func (w *Writer) Forget(partition int32, marker []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := taskID{partition, string(marker)}
	if t := w.tasks[id]; t != nil {
		t.carry = nil
		if !t.busy {
			delete(w.tasks, id)
		}
	}
}

// Wait returns once no Append of the task is in flight or queued, or
// with ctx's error. A restore of a task that moved away and back reads
// the changelog's end after its old appends landed, not before: an
// append landing after the restore point would otherwise bring back, in
// a later restore, values the new owner never had.
func (w *Writer) Wait(ctx context.Context, partition int32, marker []byte) error {
	w.mu.Lock()
	t := w.tasks[taskID{partition, string(marker)}]
	if t == nil || !t.busy {
		w.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	t.waiters = append(t.waiters, ch)
	w.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("changelog: wait for the appends of partition %d: %w", partition, ctx.Err())
	}
}

// Close refuses new Appends and waits until every accepted Append has
// called done, or ctx ends. It does not close the client; closing the
// client fails what is still buffered, which ends the wait. Close may be
// called more than once.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		w.idle = make(chan struct{})
		if w.inflight == 0 {
			close(w.idle)
		}
	}
	idle := w.idle
	w.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("changelog: close: %w", ctx.Err())
	}
}

// take makes c the task's checkpoint in flight, with the carried ops
// first. t's lock is held.
func (t *task) take(c *checkpoint) {
	if len(t.carry) > 0 {
		c.ops = append(t.carry, c.ops...) // carry is the Writer's own copy
		t.carry = nil
	}
}

// start produces c's ops, or its marker when it has none.
func (w *Writer) start(c *checkpoint) {
	if len(c.ops) == 0 {
		w.produceMarker(c)
		return
	}
	c.pending.Store(int64(len(c.ops)))
	promise := func(r *kgo.Record, err error) { w.opDone(c, r, err) }
	for _, op := range c.ops {
		w.cl.Produce(context.Background(), w.record(c.id.partition, op), promise)
	}
}

// record is the record of op.
func (w *Writer) record(partition int32, op Op) *kgo.Record {
	r := &kgo.Record{Topic: w.topic, Partition: partition, Key: op.Key, Value: op.Value}
	switch {
	case op.Delete:
		r.Value = nil
	case r.Value == nil:
		r.Value = []byte{} // a nil value would be a tombstone
	}
	return r
}

// opDone counts the ack of one of c's ops; the last one starts the
// marker, or fails c.
func (w *Writer) opDone(c *checkpoint, r *kgo.Record, err error) {
	if err == nil {
		err = w.checkPartition(r, c.id.partition)
	}
	if err != nil {
		c.fail(err)
	}
	if c.pending.Add(-1) > 0 {
		return
	}
	if err := c.failure(); err != nil {
		w.finish(c, -1, err)
		return
	}
	go w.produceMarker(c) // counted in inflight until finish
}

func (w *Writer) produceMarker(c *checkpoint) {
	r := &kgo.Record{Topic: w.topic, Partition: c.id.partition, Key: c.marker, Value: binary.BigEndian.AppendUint64(nil, c.epoch)}
	w.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err == nil {
			err = w.checkPartition(r, c.id.partition)
		}
		if err != nil {
			w.finish(c, -1, err)
			return
		}
		w.finish(c, r.Offset+1, nil)
	})
}

// checkPartition guards against a partitioner that changed since
// NewWriter checked it.
func (w *Writer) checkPartition(r *kgo.Record, want int32) error {
	if r.Partition != want {
		return fmt.Errorf("%w: offset %d of partition %d, not %d", ErrWrongPartition, r.Offset, r.Partition, want)
	}
	return nil
}

func (c *checkpoint) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

func (c *checkpoint) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// finish reports c to its done, starts the task's next checkpoint and
// uncounts c.
func (w *Writer) finish(c *checkpoint, end int64, err error) {
	if err != nil {
		err = &AppendError{Topic: w.topic, Partition: c.id.partition, Epoch: c.epoch, Err: err}
	}
	next := w.settle(c, err != nil)
	c.done(end, err)
	if next != nil {
		go w.start(next) // counted in inflight since its Append
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inflight--
	if w.closed && w.inflight == 0 {
		close(w.idle)
	}
}

// settle records how c ended in its task and returns the task's next
// checkpoint, taken, if one waits.
func (w *Writer) settle(c *checkpoint, failed bool) *checkpoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tasks[c.id]
	if failed {
		t.carry = cloneOps(c.ops)
	}
	if len(t.queue) == 0 {
		t.busy = false
		for _, ch := range t.waiters {
			close(ch)
		}
		t.waiters = nil
		if len(t.carry) == 0 {
			delete(w.tasks, c.id)
		}
		return nil
	}
	next := t.queue[0]
	t.queue[0] = nil
	t.queue = t.queue[1:]
	t.take(next)
	return next
}

// cloneOps copies ops and their bytes, for a caller that may reuse them
// once done is called.
func cloneOps(ops []Op) []Op {
	out := make([]Op, len(ops))
	for i, op := range ops {
		out[i] = Op{Key: bytes.Clone(op.Key), Value: bytes.Clone(op.Value), Delete: op.Delete}
	}
	return out
}
