package engine

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/userstate"
	"github.com/streams-dev/streams/state"
)

// stateKey is the key prefix of a stage's state of one kind: stages are
// named by their first transform's unique name, which a pipeline keeps
// across changes elsewhere in it.
// The state of a stage kept per task is under its task's prefix.
func stateKey(ns state.Namespace, s *stageState) state.Key {
	if s.task != nil {
		return taskKey(s.task.id).Sub(ns).Text(s.spec.Names[0])
	}
	return state.NewKey(ns).Text(s.spec.Names[0])
}

// restore loads the state of a durable run and the saved source
// positions.
func (e *engine) restore() error {
	st := e.cfg.State
	if e.cfg.CheckpointInterval <= 0 {
		return fmt.Errorf("localrunner: checkpoint interval %v, want > 0", e.cfg.CheckpointInterval)
	}
	for _, s := range e.stages {
		switch {
		case s.spec.Kind == plan.KindImpulse || s.spec.Kind == plan.KindTestStream || s.spec.Splittable:
			return fmt.Errorf("localrunner: durable state needs every source of the pipeline to be a Kafka read with a consumer group; %s %v is not", s.spec.ID, s.spec.Names)
		case s.spec.Kind == plan.KindKafka:
			e.positions[s] = map[sourcePartition]int64{}
		}
		if err := restoreStage(st, s); err != nil {
			return err
		}
	}
	err := st.Scan(state.NewKey(state.NSSource), func(k, v []byte) error {
		r := state.Read(k)
		r.Namespace()
		sp := sourcePartition{group: r.Text(), topic: r.Text(), partition: int32(r.Int64())}
		if r.Err() != nil || len(v) != 8 {
			return fmt.Errorf("localrunner: a saved source position %q: bad encoding", k)
		}
		e.saved[sp] = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	if err != nil {
		return err
	}
	queued, err := e.restoreQueues(st)
	if err != nil {
		return err
	}
	e.log.Info("localrunner: durable state restored", "dir", st.Dir(), "positions", len(e.saved), "queued", queued)
	return nil
}

// restoreStage loads a stage's GroupByKey buffer, user state and timers.
func restoreStage(st *state.Store, s *stageState) error {
	if s.grp != nil {
		if err := s.grp.Restore(st, stateKey(state.NSGroup, s)); err != nil {
			return fmt.Errorf("localrunner: restoring %q: %w", s.spec.Names[0], err)
		}
	}
	if m, ok := s.store.(*userstate.Memory); ok {
		if err := m.Restore(st, stateKey(state.NSUser, s)); err != nil {
			return fmt.Errorf("localrunner: restoring the state of %q: %w", s.spec.Names[0], err)
		}
	}
	if s.timers != nil {
		if err := s.timers.Restore(st, stateKey(state.NSTimer, s)); err != nil {
			return fmt.Errorf("localrunner: restoring the timers of %q: %w", s.spec.Names[0], err)
		}
	}
	return restoreShuffleOut(st, s)
}

// loadTask gives a new task what the last checkpoint saved of it when its
// source resumes from the position saved with that state (resumed): its
// stages' buffers, state, timers and queued elements, and its watermark.
// Otherwise what is saved is stale (the group moved on past it, or it
// belongs to an older assignment) and is deleted.
func (e *engine) loadTask(t *task, resumed bool) error {
	st := e.cfg.State
	prefix := taskKey(t.id)
	if !resumed {
		t.wipe = true // by the next checkpoint
		return nil
	}
	queued := 0
	for _, s := range e.stages {
		if s.task != t {
			continue
		}
		if err := restoreStage(st, s); err != nil {
			return err
		}
		n, err := restoreQueue(st, s)
		if err != nil {
			return err
		}
		queued += n
	}
	v, ok, err := st.Get(prefix.Sub(state.NSWatermark))
	if err != nil {
		return err
	}
	if ok && len(v) == 8 {
		t.wm = mtime.Time(int64(binary.BigEndian.Uint64(v)))
	}
	e.log.Info("localrunner: partition state restored", "topic", t.id.topic, "partition", t.id.partition, "queued", queued, "watermark", t.wm)
	return nil
}

// quiet reports whether no element waits in any queue.
func (e *engine) quiet() bool {
	for _, s := range e.stages {
		if s.queued > 0 {
			return false
		}
	}
	return true
}

// checkpoint writes a checkpoint (nothing runs; elements may be queued,
// see queues.go) and then acknowledges the Kafka batches it covers. A failed
// write fails the run: going on would acknowledge records whose state is
// not saved.
func (e *engine) checkpoint() {
	start := time.Now()
	ev := CheckpointEvent{Since: start.Sub(e.lastCkpt)}
	if !e.ckptStart.IsZero() {
		ev.Wait = start.Sub(e.ckptStart)
	}
	// Room for what the last checkpoint wrote, and a quarter more.
	b := e.cfg.State.NewBatchSized(e.ckptBytes + e.ckptBytes/4)
	defer b.Close()
	var rec *taskRecorder
	if len(e.logs) > 0 {
		rec = e.newRecorder()
		b.Record(func(c state.Change) { e.record(rec, c) })
	}
	ckpt := start.UnixNano()
	err := e.writeCheckpoint(b, ckpt)
	queued, qerr := e.saveQueues(b)
	ev.Queued, err = queued, cmp.Or(err, qerr)
	ev.Bytes = b.Size()
	e.ckptBytes = ev.Bytes
	if err == nil && rec != nil {
		err = cmp.Or(rec.err, e.rewriteTails(rec))
	}
	if err == nil {
		err = b.Commit()
	}
	ev.Write = time.Since(start)
	e.checkpointing, e.ckptStart, e.active, e.lastCkpt = false, time.Time{}, false, time.Now()
	if err != nil {
		ev.Err = fmt.Errorf("localrunner: writing a checkpoint to %s: %w", e.cfg.State.Dir(), err)
		e.log.Error("localrunner: checkpoint failed", "error", ev.Err)
		e.fail(ev.Err)
	} else {
		e.epoch++
		logged := false
		if rec != nil {
			var lerr error
			if logged, lerr = e.appendLogs(rec, e.epoch, ckpt, slices.Clone(e.unsaved)); lerr != nil {
				e.log.Error("localrunner: changelog append failed", "error", lerr)
				e.fail(lerr)
			}
		}
		for _, f := range e.unsaved {
			if !logged && e.err == nil {
				f.ack()
			}
		}
		clear(e.unsaved)
		e.unsaved = e.unsaved[:0]
		ev.DiskBytes = e.cfg.State.Stats().DiskBytes
		e.log.Debug("localrunner: checkpoint written", "bytes", ev.Bytes, "queued", ev.Queued, "wait", ev.Wait, "write", ev.Write)
	}
	if h := e.cfg.Hooks.Checkpointed; h != nil {
		h(ev)
	}
}

func (e *engine) writeCheckpoint(b *state.Batch, ckpt int64) error {
	for _, t := range e.taskList {
		if t.wipe {
			// Stale state of an older assignment: gone from the local
			// store and, as tombstones, from the changelog.
			b.DeletePrefix(t.prefix)
			t.wipe = false
		}
	}
	for _, s := range e.stages {
		if s.grp != nil {
			if err := s.grp.Checkpoint(b, stateKey(state.NSGroup, s)); err != nil {
				return err
			}
		}
		if m, ok := s.store.(*userstate.Memory); ok {
			if err := m.Checkpoint(b, stateKey(state.NSUser, s)); err != nil {
				return err
			}
		}
		if s.timers != nil {
			if err := s.timers.Checkpoint(b, stateKey(state.NSTimer, s)); err != nil {
				return err
			}
		}
		checkpointShuffleOut(b, s)
		for sp, next := range e.positions[s] {
			if e.tasks[sp] != nil {
				// With the task's state: prepareTask reads it there.
				b.Set(taskPositionKey(sp), int64Value(next))
				if m, ok := e.readMarks[sp]; ok {
					b.Set(readMarksKey(sp, s.spec.Kafka.Shuffle), m)
					delete(e.readMarks, sp)
				}
				continue
			}
			b.Set(sourceKey(sp), int64Value(next))
			if m, ok := e.readMarks[sp]; ok {
				b.Set(sourceTimeKey(sp), m)
				delete(e.readMarks, sp)
			}
			e.setSaved(sp, next)
		}
		clear(e.positions[s])
	}
	for _, t := range e.taskList {
		b.Set(taskWatermarkKey(t.id), int64Value(int64(t.wm)))
		b.Set(taskCkptKey(t.id), int64Value(ckpt))
	}
	return nil
}

// finalCheckpoint saves the state when a durable run ends without failure
// and with nothing left in the queues (a drain that timed out drops queued
// elements: their records are read again, from the last checkpoint).
func (e *engine) finalCheckpoint() {
	if e.syncCuts {
		return // only a cut's checkpoint is in a transaction
	}
	if e.err != nil || e.stopping || !e.active || e.running > 0 || !e.quiet() {
		return
	}
	e.checkpoint()
}
