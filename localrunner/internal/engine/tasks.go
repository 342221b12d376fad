package engine

import (
	"cmp"
	"context"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/localrunner/internal/kafkasource"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/state"
)

// task is one source partition's share of a run: a copy of every stage
// kept per task (taskStages), with its own queues, GroupByKey buffers,
// user state and timers, and the partition's own event time. A record is
// judged late only by its task's time, and the task's state is saved and
// restored apart from other partitions', so a partition assigned late, or
// moved from another process, resumes with the time and state it had.
type task struct {
	id     sourcePartition
	prefix state.Key   // taskKey(id)
	src    *stageState // the Kafka stage reading the partition
	// tail are the keys of an incomplete changelog checkpoint its next
	// checkpoint writes again (changelog.go).
	tail [][]byte
	// stages are the task's copies, by stage ID.
	stages map[string]*stageState
	// wm is the partition's watermark: the output watermark of src for
	// the task's stages.
	wm   mtime.Time
	gone bool
	// wipe is set when the saved state of the partition is stale: the
	// next checkpoint deletes it.
	wipe bool
}

// idle reports whether t's partition is idle (kafkasource's watermark.go),
// as its source last reported.
func (t *task) idle() bool { return t.src.partIdle[t.id] }

// busy reports whether elements wait or run at any of t's stages.
func (t *task) busy() bool {
	for _, s := range t.stages {
		if s.queued > 0 || len(s.inflight) > 0 {
			return true
		}
	}
	return false
}

// taskStages returns, for each stage kept per task, the ID of the Kafka
// stage whose partitions are its tasks. A stage is kept per task when
// everything it reads comes from one Kafka source through stages kept per
// task (or from the source itself), it is neither splittable nor reads
// side inputs, and its state, if any, follows the source's partitioning
// (plan.Stage.PartitionKeyed). A source has tasks only when at least one
// stateful stage qualifies; otherwise its partitions share the process's
// stages, as every stage of a pipeline without Kafka sources does.
func taskStages(p *plan.Plan) map[string]string {
	owner := map[string]string{} // stage -> source, for the source and taskable stages
	stateful := map[string]bool{}
	for _, s := range p.Stages {
		switch {
		case s.Kind == plan.KindKafka:
			owner[s.ID] = s.ID
			continue
		case s.Kind != plan.KindSDK && s.Kind != plan.KindGroup && s.Kind != plan.KindShuffleWrite, s.Splittable, len(s.SideInputs) > 0, len(s.Upstream) == 0:
			continue
		}
		// A shuffle writer numbers what its task writes: it is state of
		// the task.
		keyed := s.Kind == plan.KindGroup || s.Stateful || s.Kind == plan.KindShuffleWrite
		if keyed && !s.PartitionKeyed && s.Kind != plan.KindShuffleWrite {
			continue
		}
		src := ""
		for _, pc := range s.Upstream {
			o, ok := owner[p.Producers[pc]]
			if !ok || src != "" && o != src {
				src = ""
				break
			}
			src = o
		}
		if src == "" {
			continue
		}
		owner[s.ID] = src
		if keyed {
			stateful[src] = true
		}
	}
	out := map[string]string{}
	for id, src := range owner {
		if id != src && stateful[src] {
			out[id] = src
		}
	}
	return out
}

// taskKey is the prefix of every key of task id's state.
func taskKey(id sourcePartition) state.Key {
	return state.NewKey(state.NSTask).Text(id.group).Text(id.topic).Int64(int64(id.partition))
}

// onPartitions applies a Kafka source's news of its partitions: an
// assigned partition becomes a task (its saved state restored when the
// source resumes from the saved position), a gone one stops being one.
func (e *engine) onPartitions(src *stageState, evs []kafkasource.PartitionEvent) {
	if src.partIdle == nil {
		src.partIdle = map[sourcePartition]bool{}
	}
	for _, pe := range evs {
		id := sourcePartition{src.spec.Kafka.Config.Group, pe.Topic, pe.Partition}
		switch {
		case pe.Gone, pe.Assigned:
			delete(src.partIdle, id)
			if t := e.tasks[id]; t != nil {
				e.dropTask(t)
			}
			if pe.Assigned {
				src.partIdle[id] = false
				if e.tasking[src.spec.ID] {
					e.addTask(src, id, pe.Resumed)
				}
			}
		case pe.Watermark != 0:
			src.partIdle[id] = pe.Idle
			if t := e.tasks[id]; t != nil {
				t.wm = max(t.wm, pe.Watermark)
			}
		}
	}
}

// taskFor returns the task of a batch of source src's partition, making
// one when the partition's assignment was not announced.
func (e *engine) taskFor(src *stageState, id sourcePartition) *task {
	if !e.tasking[src.spec.ID] {
		return nil
	}
	if t := e.tasks[id]; t != nil {
		return t
	}
	return e.addTask(src, id, false)
}

// addTask makes the task of partition id. A durable run restores what the
// last checkpoint saved of it when the source resumes from the position
// saved with that state (resumed); otherwise the saved state is stale (the
// group moved on, or there is none) and is deleted.
func (e *engine) addTask(src *stageState, id sourcePartition, resumed bool) *task {
	t := &task{id: id, prefix: taskKey(id), src: src, stages: map[string]*stageState{}, wm: mtime.MinTimestamp}
	t.tail = e.takeTail(id)
	for _, tmpl := range e.specs {
		if e.taskOf[tmpl.spec.ID] != src.spec.ID {
			continue
		}
		c := newStageState(tmpl.spec, e.cfg.MaxBundleSize)
		c.pool, c.task = tmpl.pool, t
		if err := e.initState(context.Background(), c); err != nil {
			e.fail(err)
			return t
		}
		if e.ordered[src.spec.ID] && c.spec.Kind == plan.KindSDK && c.lanes == nil {
			// What the task writes to a shuffle comes in the order of its
			// records (shuffle.go): one bundle at a time.
			c.lanes = make([]lane, 1)
		}
		t.stages[tmpl.spec.ID] = c
	}
	e.tasks[id] = t
	e.taskList = append(e.taskList, t)
	slices.SortFunc(e.taskList, func(a, b *task) int {
		return cmp.Or(cmp.Compare(a.id.group, b.id.group), cmp.Compare(a.id.topic, b.id.topic), cmp.Compare(a.id.partition, b.id.partition))
	})
	e.rebuildStages()
	if e.durable {
		if err := e.loadTask(t, resumed); err != nil {
			e.log.Error("localrunner: restoring a partition's state failed", "topic", id.topic, "partition", id.partition, "error", err)
			e.fail(err)
		}
	}
	e.log.Debug("localrunner: partition task started", "topic", id.topic, "partition", id.partition, "resumed", resumed, "watermark", t.wm)
	return t
}

// dropTask forgets a task whose partition was revoked or lost. Its queued
// elements and state go: the partition's next owner reads its records
// again from the committed offset, which never passes what they hold.
// Bundles of its stages still in flight finish into the dropped copies.
func (e *engine) dropTask(t *task) {
	t.gone = true
	delete(e.tasks, t.id)
	// The next checkpoint does not save the task's state, so it must not
	// save a position past the state saved last either.
	delete(e.positions[t.src], t.id)
	e.taskList = slices.DeleteFunc(e.taskList, func(x *task) bool { return x == t })
	for _, c := range t.stages {
		c.retire()
	}
	e.rebuildStages()
	e.log.Debug("localrunner: partition task dropped", "topic", t.id.topic, "partition", t.id.partition)
}

// retire frees what a dropped task's stage holds that is not garbage
// collected: its combiner, unless a grouping task still uses it (then
// onGrouped retires it).
func (s *stageState) retire() {
	if s.cmb != nil && s.grp != nil {
		_ = s.cmb.Close()
		s.cmb = nil
	}
}

// rebuildStages lists the stages that run: in topological order, the
// stages shared by the process and, for a stage kept per task, its copy in
// every task (in task order).
func (e *engine) rebuildStages() {
	e.stages = e.stages[:0]
	for _, s := range e.specs {
		if _, ok := e.taskOf[s.spec.ID]; !ok {
			e.stages = append(e.stages, s)
			continue
		}
		for _, t := range e.taskList {
			if c := t.stages[s.spec.ID]; c != nil {
				e.stages = append(e.stages, c)
			}
		}
	}
}

// consumer returns the stage cid that reads what task t (nil: the
// process) writes: t's copy when cid is kept per task, else the shared
// stage.
func (e *engine) consumer(cid string, t *task) *stageState {
	if t != nil {
		if c := t.stages[cid]; c != nil {
			return c
		}
	}
	return e.byID[cid]
}

// upstream returns the output watermark of the producer of PCollection pc
// as stage s sees it: for a stage of a task, the task's copy (or the
// task's partition watermark, for the source); for a shared stage reading
// a stage kept per task, the minimum over the tasks but those idle with
// nothing queued or running, or over all of them when every one is (none:
// s's input watermark holds); never below s's input watermark.
func (e *engine) upstream(s *stageState, pc string) (mtime.Time, bool) {
	pid := e.cfg.Plan.Producers[pc]
	if s.task != nil {
		if pid == s.task.src.spec.ID {
			return s.task.wm, true
		}
		if u := s.task.stages[pid]; u != nil {
			return u.out, true
		}
	}
	if _, ok := e.taskOf[pid]; ok {
		busy, all := mtime.MaxTimestamp, mtime.MaxTimestamp
		nBusy, n := 0, 0
		for _, t := range e.taskList {
			u := t.stages[pid]
			if u == nil {
				continue
			}
			n, all = n+1, min(all, u.out)
			if !t.idle() || t.busy() {
				nBusy, busy = nBusy+1, min(busy, u.out)
			}
		}
		// Leaving tasks out may lower the minimum when they come back:
		// what s saw as its input watermark never moves back.
		switch {
		case n == 0:
			return s.in, true
		case nBusy == 0:
			return max(all, s.in), true
		}
		return max(busy, s.in), true
	}
	if u := e.producers[pc]; u != nil {
		return u.out, true
	}
	return 0, false
}
