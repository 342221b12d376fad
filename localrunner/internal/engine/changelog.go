package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/streams-dev/streams/localrunner/internal/changelog"
	"github.com/streams-dev/streams/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Changelogs
//
// A durable run whose Kafka source has partition tasks also writes each
// task's state to a changelog topic (package changelog): every checkpoint
// appends, per task, the keys the checkpoint changed under the task's
// prefix (a range deletion becomes a tombstone per key it deletes) and a
// commit marker, to the changelog partition numbered like the task's
// source partition. The task's source position and watermark are keys
// like any other, so a checkpoint in the changelog is a consistent cut of
// the task. The Kafka batches a checkpoint covers are acknowledged (made
// committable) only once its appends are acknowledged, so the group's
// committed offsets never pass what the changelog holds.
//
// When a partition is assigned, the source asks for its resume position
// (prepareTask) before it fetches: if the local store's copy of the task
// is not the changelog's (the end offset recorded after its last append
// differs from the partition's), the task's keys are replaced by the
// changelog's, and the position is read from them. A process on another
// machine with an empty disk thus resumes the task exactly where its last
// checkpoint left it.

// ChangelogConfig configures the changelogs of a durable run's tasks.
type ChangelogConfig struct {
	// Disabled keeps task state on the local disk only: a partition that
	// moves to another process is then read again from the group's
	// committed offset, which never passes a record waiting in a window.
	Disabled bool
	// ReplicationFactor of the changelog topics the runner creates (-1 or
	// 0: the broker's default).
	ReplicationFactor int16
}

// taskLog is the changelog of one Kafka source's tasks.
type taskLog struct {
	topic string
	opts  []kgo.Opt // connection options, for restores
	cl    *kgo.Client
	adm   *kadm.Client
	w     *changelog.Writer
	// eos: the appends go through the source's transactions (cuts.go),
	// and a restore never trusts the local copy.
	eos bool
}

// logDone reports that a task's append of checkpoint epoch (ckpt, its
// unique id) ended.
type logDone struct {
	epoch int
	ckpt  int64
	task  sourcePartition
	end   int64
	err   error
}

// pendingAck is a checkpoint whose appends are in flight: its Kafka
// batches are acknowledged when waiting reaches zero, in epoch order.
type pendingAck struct {
	epoch   int
	waiting int
	fins    []*fin
	done    []logDone // the appends acknowledged so far
}

var unsafeTopic = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// changelogTopic is the changelog topic of a source's tasks: named from
// the consumer group and the source step (the first part of the stage's
// first transform name).
func changelogTopic(group, stage string) string {
	step, _, _ := strings.Cut(stage, "/")
	return unsafeTopic.ReplaceAllString(group+"-"+step+"-changelog", "_")
}

// openLogs makes sure each tasking source's changelog topic exists, with
// a partition per source partition and compaction, and opens its writer.
func (e *engine) openLogs(ctx context.Context) error {
	if !e.durable || e.cfg.Changelog.Disabled {
		return nil
	}
	for _, s := range e.specs {
		if !e.tasking[s.spec.ID] {
			continue
		}
		l, err := e.openLog(ctx, s)
		if err != nil {
			return err
		}
		e.logs[s] = l
	}
	return nil
}

func (e *engine) openLog(ctx context.Context, s *stageState) (*taskLog, error) {
	rc := s.spec.Kafka.Config
	opts, err := rc.Client.Options()
	if err != nil {
		return nil, fmt.Errorf("localrunner: changelog: %w", err)
	}
	opts = append(opts, e.cfg.Kafka.ClientOpts...)
	l := &taskLog{topic: changelogTopic(rc.Group, s.spec.Names[0]), opts: opts, eos: e.syncCuts}
	if l.eos {
		// Restores read the checkpoints of committed transactions only.
		l.opts = append(slices.Clone(opts), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if s.spec.Kafka.Shuffle {
		l.topic = rc.Topics[0] + "-changelog"
	}
	if l.cl, err = kgo.NewClient(append(slices.Clone(opts), kgo.RecordPartitioner(kgo.ManualPartitioner()))...); err != nil {
		return nil, fmt.Errorf("localrunner: changelog: %w", err)
	}
	l.adm = kadm.NewClient(l.cl)
	fail := func(err error) (*taskLog, error) {
		l.cl.Close()
		return nil, fmt.Errorf("localrunner: changelog %s of %s: %w", l.topic, s.spec.Names[0], err)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, parts, err := topicPartitions(cctx, l.adm, rc.Topics)
	if err != nil {
		return fail(err)
	}
	lag := "3600000" // keep the cleaner off a tail a restore may have to rewrite
	if err := changelog.Ensure(cctx, l.adm, l.topic, parts, e.cfg.Changelog.ReplicationFactor, map[string]*string{"min.compaction.lag.ms": &lag}); err != nil {
		return fail(err)
	}
	if l.eos {
		l.w, err = changelog.NewTxnWriter(e.txnSrc, l.topic)
	} else {
		l.w, err = changelog.NewWriter(l.cl, l.topic)
	}
	if err != nil {
		return fail(err)
	}
	e.log.Info("localrunner: task changelog ready", "topic", l.topic, "partitions", parts)
	return l, nil
}

// closeLogs waits for the appends in flight and closes the clients.
func (e *engine) closeLogs() {
	for _, l := range e.logs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := l.w.Close(ctx); err != nil {
			e.log.Warn("localrunner: closing a changelog", "topic", l.topic, "error", err)
		}
		cancel()
		l.cl.Close()
	}
}

// Keys of a task's own bookkeeping, under its prefix: its source
// position and its watermark (in the changelog), and, in NSMeta, which
// the changelog never holds, the changelog's commit marker, the id of the
// local copy's last checkpoint, and the changelog end offset after the
// last append acknowledged with that append's checkpoint id. The local
// copy is the changelog's when both match: a local checkpoint whose
// append never completed makes them differ. Checkpoint ids are unique
// across processes (their start time in nanoseconds).
func taskPositionKey(id sourcePartition) state.Key  { return taskKey(id).Sub(state.NSSource) }
func taskWatermarkKey(id sourcePartition) state.Key { return taskKey(id).Sub(state.NSWatermark) }
func taskMarkerKey(id sourcePartition) state.Key    { return taskKey(id).Sub(state.NSMeta).Text("marker") }
func taskCkptKey(id sourcePartition) state.Key {
	return taskKey(id).Sub(state.NSMeta).Text("checkpoint")
}
func taskLogEndKey(id sourcePartition) state.Key {
	return taskKey(id).Sub(state.NSMeta).Text("changelog-end")
}

func getInt64(st *state.Store, k state.Key) (int64, bool, error) {
	v, ok, err := st.Get(k)
	if err != nil || !ok || len(v) != 8 {
		return 0, false, err
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

func int64Value(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// restoreFromLog makes the local copy of task id the changelog's, unless
// it is already (its recorded end is the partition's end), and returns
// the keys of an incomplete checkpoint at the changelog's end, which the
// task's next checkpoint must write again.
func (l *taskLog) restoreFromLog(ctx context.Context, st *state.Store, id sourcePartition) (tail [][]byte, err error) {
	end, err := changelog.End(ctx, l.adm, l.topic, id.partition)
	if err != nil {
		return nil, err
	}
	if current, err := localIsCurrent(st, id, end); err != nil || current && !l.eos {
		return nil, err
	}
	b := st.NewBatch()
	defer b.Close()
	prefix := taskKey(id)
	b.DeletePrefix(prefix)
	res, err := changelog.Restore(ctx, l.opts, l.topic, id.partition, prefix, taskMarkerKey(id), func(op changelog.Op) error {
		if op.Delete {
			b.Delete(op.Key)
		} else {
			b.Set(op.Key, op.Value)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.Set(taskCkptKey(id), int64Value(int64(res.Epoch)))
	// With a tail, the copy is current only once a checkpoint of the task
	// wrote the tail's keys again (recordLogEnds then records the end):
	// a process killed before that must restore, and get the tail, again.
	if len(res.Tail) == 0 {
		b.Set(taskLogEndKey(id), append(int64Value(res.End), int64Value(int64(res.Epoch))...))
	}
	return res.Tail, b.Commit()
}

// localIsCurrent reports whether the local copy of task id is the
// changelog's, whose end is end.
func localIsCurrent(st *state.Store, id sourcePartition, end int64) (bool, error) {
	v, ok, err := st.Get(taskLogEndKey(id))
	if err != nil || !ok || len(v) != 16 {
		return false, err
	}
	ckpt, ok, err := getInt64(st, taskCkptKey(id))
	if err != nil || !ok {
		return false, err
	}
	return int64(binary.BigEndian.Uint64(v)) == end && int64(binary.BigEndian.Uint64(v[8:])) == ckpt, nil
}

// taskRecorder collects, while a checkpoint's batch is written, the
// changes under each task's prefix: the ops of the task's append.
type taskRecorder struct {
	st  *state.Store
	ops map[*task]map[string]changelog.Op
	err error
	// last is the task of the last change: a stage copy's checkpoint
	// writes its keys one after another.
	last *task
}

func (e *engine) newRecorder() *taskRecorder {
	return &taskRecorder{st: e.cfg.State, ops: map[*task]map[string]changelog.Op{}}
}

// taskOfKey returns the live task whose prefix key begins with, trying
// the recorder's last one first.
func (e *engine) taskOfKey(r *taskRecorder, key []byte) *task {
	if r.last != nil && bytes.HasPrefix(key, r.last.prefix) {
		return r.last
	}
	for _, t := range e.taskList {
		if bytes.HasPrefix(key, t.prefix) {
			r.last = t
			return t
		}
	}
	return nil
}

// record is the batch's Record function. The task's NSMeta keys are
// local bookkeeping, not state.
func (e *engine) record(r *taskRecorder, c state.Change) {
	t := e.taskOfKey(r, c.Key)
	if t == nil || e.logs[t.src] == nil || len(c.Key) > len(t.prefix) && c.Key[len(t.prefix)] == byte(state.NSMeta) {
		return
	}
	ops := r.ops[t]
	if ops == nil {
		ops = map[string]changelog.Op{}
		r.ops[t] = ops
	}
	if c.End == nil {
		ops[string(c.Key)] = changelog.Op{Key: bytes.Clone(c.Key), Value: bytes.Clone(c.Value), Delete: c.Delete}
		return
	}
	// A range deletion: a tombstone for every key it deletes, those
	// stored and those this batch set before it.
	for k, op := range ops {
		if k >= string(c.Key) && k < string(c.End) {
			op.Value, op.Delete = nil, true
			ops[k] = op
		}
	}
	err := r.st.ScanRange(c.Key, c.End, func(k, _ []byte) error {
		ops[string(k)] = changelog.Op{Key: bytes.Clone(k), Delete: true}
		return nil
	})
	if err != nil && r.err == nil {
		r.err = err
	}
}

// rewriteTails adds to the ops of each task with an incomplete changelog
// tail (restoreFromLog) the restored value of each key of it that the
// checkpoint did not write.
func (e *engine) rewriteTails(r *taskRecorder) error {
	for _, t := range e.taskList {
		if len(t.tail) == 0 || e.logs[t.src] == nil {
			continue
		}
		ops := r.ops[t]
		if ops == nil {
			ops = map[string]changelog.Op{}
			r.ops[t] = ops
		}
		for _, k := range t.tail {
			if _, ok := ops[string(k)]; ok {
				continue
			}
			v, ok, err := e.cfg.State.Get(k)
			if err != nil {
				return err
			}
			ops[string(k)] = changelog.Op{Key: k, Value: v, Delete: !ok}
		}
		t.tail = nil
	}
	return nil
}

// appendLogs appends each task's ops of checkpoint epoch to its
// changelog; the Kafka batches the checkpoint covers (fins) are
// acknowledged once every append is. It reports whether any append was
// made (else the caller acknowledges them at once).
func (e *engine) appendLogs(r *taskRecorder, epoch int, ckpt int64, fins []*fin) (bool, error) {
	p := &pendingAck{epoch: epoch, fins: fins}
	for t, m := range r.ops {
		if len(m) == 0 || t.gone {
			continue
		}
		ops := make([]changelog.Op, 0, len(m))
		for _, op := range m {
			ops = append(ops, op)
		}
		slices.SortFunc(ops, func(a, b changelog.Op) int { return bytes.Compare(a.Key, b.Key) })
		id := t.id
		done := func(end int64, err error) {
			select {
			case e.logged <- logDone{epoch: epoch, ckpt: ckpt, task: id, end: end, err: err}:
			case <-e.finished:
			}
		}
		if err := e.logs[t.src].w.Append(id.partition, taskMarkerKey(id), uint64(ckpt), ops, done); err != nil {
			return p.waiting > 0, err
		}
		p.waiting++
	}
	if p.waiting == 0 {
		return false, nil
	}
	e.pendingAcks = append(e.pendingAcks, p)
	return true, nil
}

// onLogged takes an append's outcome: a failure fails the run (the
// checkpoint's batches stay unacknowledged, and are read again); a
// success records the changelog's end for the task, and acknowledges the
// batches of every checkpoint whose appends all succeeded, in order.
func (e *engine) onLogged(d logDone) {
	if d.err != nil {
		err := fmt.Errorf("localrunner: writing the changelog of partition %s[%d]: %w", d.task.topic, d.task.partition, d.err)
		e.log.Error("localrunner: changelog write failed", "error", err)
		e.fail(err)
		return
	}
	for _, p := range e.pendingAcks {
		if p.epoch == d.epoch {
			p.waiting--
			p.done = append(p.done, d)
		}
	}
	for len(e.pendingAcks) > 0 && e.pendingAcks[0].waiting == 0 {
		p := e.pendingAcks[0]
		if !e.syncCuts { // under exactly-once the local copy is never trusted
			e.recordLogEnds(p.done)
		}
		for _, f := range p.fins {
			f.ack()
		}
		e.pendingAcks = e.pendingAcks[1:]
	}
	e.cutReady()
}

// recordLogEnds records, in one batch, the changelog end after each
// append of a checkpoint whose appends all succeeded, for the tasks still
// here: their local copies then count as current (localIsCurrent). A
// failed write only costs a restore from the changelog later.
func (e *engine) recordLogEnds(done []logDone) {
	b := e.cfg.State.NewBatch()
	defer b.Close()
	for _, d := range done {
		if e.tasks[d.task] != nil {
			b.Set(taskLogEndKey(d.task), append(int64Value(d.end), int64Value(d.ckpt)...))
		}
	}
	if err := b.Commit(); err != nil {
		e.log.Warn("localrunner: recording changelog ends", "error", err)
	}
}

// awaitLogs takes the outcomes of the appends in flight when the run
// ends, for up to 10 s, so that what they cover is acknowledged and
// committed.
func (e *engine) awaitLogs() {
	deadline := time.After(10 * time.Second)
	for len(e.pendingAcks) > 0 && e.err == nil {
		select {
		case d := <-e.logged:
			e.onLogged(d)
		case <-deadline:
			e.log.Warn("localrunner: changelog appends still in flight at the end; what they cover is read again", "checkpoints", len(e.pendingAcks))
			return
		}
	}
}

// prepareReq asks the loop to drop a partition's task before its state is
// restored for a new assignment; reply is closed when done.
type prepareReq struct {
	id    sourcePartition
	reply chan struct{}
	// err, when set, fails the run: a restore failed under exactly-once,
	// where the committed offsets are past what the state holds.
	err error
}

func (e *engine) onPrepare(p prepareReq) {
	if p.err != nil {
		e.fail(p.err)
		close(p.reply)
		return
	}
	if t := e.tasks[p.id]; t != nil {
		e.dropTask(t)
	}
	close(p.reply)
}

// prepareTask is a tasking source's Resume in a durable run, called when
// partition id is assigned, before it is fetched: any task of an older
// assignment is dropped, the local copy of the task's state is made the
// changelog's, and the position saved with that state is returned. A
// failed restore is logged and leaves the source to read from the
// group's committed offset (the saved state is then deleted as stale).
func (e *engine) prepareTask(src *stageState, id sourcePartition) (int64, bool) {
	if !e.dropOnLoop(id) {
		return 0, false
	}
	st := e.cfg.State
	if l := e.logs[src]; l != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		start := time.Now()
		// The dropped task's appends land before the restore reads the
		// end; what failed of them is not written after it.
		err := l.w.Wait(ctx, id.partition, taskMarkerKey(id))
		l.w.Forget(id.partition, taskMarkerKey(id))
		var tail [][]byte
		if err == nil {
			tail, err = l.restoreFromLog(ctx, st, id)
		}
		if err != nil && l.eos {
			err = fmt.Errorf("localrunner: restoring the state of partition %s[%d] from its changelog %s: %w", id.topic, id.partition, l.topic, err)
			e.log.Error("localrunner: restoring a partition's state failed under exactly-once: the run stops", "error", err)
			select {
			case e.prepares <- prepareReq{err: err, reply: make(chan struct{})}:
			case <-e.finished:
			}
			return 0, false
		}
		if err != nil {
			e.log.Error("localrunner: restoring a partition's state from its changelog failed; reading it again from the group's committed offset", "topic", id.topic, "partition", id.partition, "changelog", l.topic, "error", err)
			return 0, false
		}
		e.setTail(id, tail)
		e.log.Debug("localrunner: partition state ready", "topic", id.topic, "partition", id.partition, "elapsed", time.Since(start))
	}
	pos, ok, err := getInt64(st, taskPositionKey(id))
	if err != nil {
		e.log.Error("localrunner: reading a partition's saved position", "topic", id.topic, "partition", id.partition, "error", err)
		return 0, false
	}
	return pos, ok
}

// releaseFunc returns a tasking Kafka stage's Release in a durable run:
// the revoked partitions' tasks are dropped at once, not when the source
// next reports them gone, and their changelog appends waited for (not
// under exactly-once: a restore reads committed transactions only, and
// the revoked partitions' transaction aborts). Otherwise a checkpoint
// between the revoke and the report could append a task's state after
// the partition's next owner restored it, and a later restore would bring
// back keys that owner never had (it deletes what its own copy holds).
// An owner that lost its partitions without a revoke (its session
// expired) is not stopped this way: only exactly-once fences it.
func (e *engine) releaseFunc(src *stageState) func(string, []int32) {
	if e.cfg.State == nil || !e.tasking[src.spec.ID] {
		return nil
	}
	group := src.spec.Kafka.Config.Group
	return func(topic string, parts []int32) {
		l := e.logs[src]
		for _, p := range parts {
			id := sourcePartition{group, topic, p}
			if !e.dropOnLoop(id) {
				return
			}
			if l == nil || l.eos {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := l.w.Wait(ctx, p, taskMarkerKey(id)); err != nil {
				e.log.Warn("localrunner: changelog appends of a revoked partition still in flight", "topic", topic, "partition", p, "error", err)
			}
			cancel()
		}
	}
}

// dropOnLoop has the loop drop task id, if it has one, and waits for it;
// false when the run ended first. Called from a source's goroutine.
func (e *engine) dropOnLoop(id sourcePartition) bool {
	p := prepareReq{id: id, reply: make(chan struct{})}
	select {
	case e.prepares <- p:
	case <-e.finished:
		return false
	}
	select {
	case <-p.reply:
		return true
	case <-e.finished:
		return false
	}
}

func (e *engine) setTail(id sourcePartition, tail [][]byte) {
	e.tailMu.Lock()
	defer e.tailMu.Unlock()
	if len(tail) > 0 {
		e.tails[id] = tail
	} else {
		delete(e.tails, id)
	}
}

func (e *engine) takeTail(id sourcePartition) [][]byte {
	e.tailMu.Lock()
	defer e.tailMu.Unlock()
	tail := e.tails[id]
	delete(e.tails, id)
	return tail
}
