package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/streams-dev/streams/localrunner/internal/kafkasource"
	"github.com/streams-dev/streams/state"
)

type sourceEvent struct {
	stage *stageState
	ev    kafkasource.Event
}

type sourceExit struct {
	stage *stageState
	err   error
}

// sourcePartition names a Kafka partition read by a consumer group.
type sourcePartition struct {
	group, topic string
	partition    int32
}

// startSources runs every Kafka source on a goroutine of its own. ctx
// stops their fetching; e.finished (closed by stopSources) ends their
// wait for acknowledgements.
func (e *engine) startSources(ctx context.Context) {
	e.sourceExits = make(chan sourceExit, e.liveSources)
	ctx, e.stopSrc = context.WithCancel(ctx)
	for _, st := range e.stages {
		if st.src == nil {
			continue
		}
		emit := func(ev kafkasource.Event) bool {
			select {
			case e.sourced <- sourceEvent{stage: st, ev: ev}:
				return true
			case <-e.finished:
				return false
			}
		}
		go func() {
			e.sourceExits <- sourceExit{stage: st, err: st.src.Run(ctx, emit, e.finished)}
		}()
	}
}

// stopSources tells the sources the loop is over and waits for them (they
// commit what was acknowledged and leave their groups).
func (e *engine) stopSources() {
	close(e.finished)
	if e.stopSrc != nil {
		e.stopSrc()
	}
	for ; e.liveSources > 0; e.liveSources-- {
		<-e.sourceExits
	}
}

// onSourced queues a source batch at the stages reading it, with a
// finalization reference that acknowledges the batch once everything
// derived from it is processed, and takes the source's watermark.
func (e *engine) onSourced(se sourceEvent) {
	s := se.stage
	if se.ev.Cut || se.ev.TxnEnded {
		e.onTxnEvent(se.ev)
	}
	if len(se.ev.Partitions) > 0 && !e.stopping {
		e.onPartitions(s, se.ev.Partitions)
	}
	if b := se.ev.Batch; b != nil && !e.stopping {
		topic, part, next := b.Position()
		t := e.taskFor(s, sourcePartition{s.spec.Kafka.Config.Group, topic, part})
		if t != nil && e.ordered[s.spec.ID] {
			startShuffleOut(t, b.First)
		}
		e.seq++
		f := &fin{stage: s, bundle: fmt.Sprintf("src%d", e.seq), ack: b.Ack, free: b.Release, epoch: e.epoch}
		if e.durable {
			e.active = true
			e.positions[s][sourcePartition{s.spec.Kafka.Config.Group, topic, part}] = next
			if b.Marks != nil {
				e.readMarks[sourcePartition{s.spec.Kafka.Config.Group, topic, part}] = b.Marks
			}
		}
		for _, p := range s.spec.Outputs {
			if len(b.Ends) == 0 {
				break // control records only (a shuffle read): a position
			}
			for _, cid := range e.cfg.Plan.Consumers[p] {
				e.consumer(cid, t).enqueue(&batch{data: b.Data, ends: b.Ends, hold: b.MinTS, fins: []*fin{f}})
				f.refs++
			}
		}
		// The records are the queues' now. The source keeps the batch until
		// it is committed, which for records waiting in windows is long
		// after they were read: it must not keep their bytes too.
		n := len(b.Ends)
		b.Data, b.Ends = nil, nil
		if f.refs == 0 {
			e.finalize(f)
		}
		e.hookBundle(BundleEvent{Stage: s.spec.ID, Transforms: s.spec.Names, Bundle: f.bundle, Outputs: n})
	}
	if w := se.ev.Watermark; w > s.srcWM {
		s.srcWM = w
	}
}

func sourceKey(sp sourcePartition) state.Key {
	return state.NewKey(state.NSSource).Text(sp.group).Text(sp.topic).Int64(int64(sp.partition))
}

// resumeFunc returns Kafka stage src's Resume in a durable run: the
// positions saved with its tasks' state (prepareTask), or, without tasks,
// the saved positions.
func (e *engine) resumeFunc(src *stageState) func(string, int32) (int64, bool) {
	if e.cfg.State == nil {
		return nil
	}
	group := src.spec.Kafka.Config.Group
	if e.tasking[src.spec.ID] {
		return func(topic string, partition int32) (int64, bool) {
			return e.prepareTask(src, sourcePartition{group, topic, partition})
		}
	}
	return func(topic string, partition int32) (int64, bool) {
		e.savedMu.Lock()
		defer e.savedMu.Unlock()
		next, ok := e.saved[sourcePartition{group, topic, partition}]
		return next, ok
	}
}

// resumeMarksFunc returns a tasking Kafka stage's ResumeMarks: the read
// state saved with the task's position (a shuffle read's marks, a Kafka
// read's time).
func (e *engine) resumeMarksFunc(src *stageState) func(string, int32) []byte {
	if e.cfg.State == nil {
		return nil
	}
	group, shuffled, tasking := src.spec.Kafka.Config.Group, src.spec.Kafka.Shuffle, e.tasking[src.spec.ID]
	return func(topic string, partition int32) []byte {
		key := sourceTimeKey(sourcePartition{group, topic, partition})
		if tasking {
			key = readMarksKey(sourcePartition{group, topic, partition}, shuffled)
		}
		v, ok, err := e.cfg.State.Get(key)
		if err != nil || !ok {
			return nil
		}
		return slices.Clone(v)
	}
}

// readMarksKey is where a task's read state (kafkasource.Batch.Marks) is
// saved: a shuffle read's marks, or a Kafka read's time.
func readMarksKey(id sourcePartition, shuffled bool) state.Key {
	if shuffled {
		return taskKey(id).Sub(state.NSShuffle).Text("marks")
	}
	return taskKey(id).Sub(state.NSWatermark).Text("read")
}

// sourceTimeKey is where a Kafka read's time is saved without tasks,
// beside its position (sourceKey).
func sourceTimeKey(sp sourcePartition) state.Key {
	return state.NewKey(state.NSWatermark).Text("read").Text(sp.group).Text(sp.topic).Int64(int64(sp.partition))
}

// setSaved records the position a checkpoint saved for a partition: the
// source resumes there when the partition is assigned again.
func (e *engine) setSaved(sp sourcePartition, next int64) {
	e.savedMu.Lock()
	defer e.savedMu.Unlock()
	e.saved[sp] = next
}
