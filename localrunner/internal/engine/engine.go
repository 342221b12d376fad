// Package engine is the element manager and scheduler of the local runner.
//
// # Ownership
//
// One goroutine, the one calling Run, owns every piece of mutable state:
// the stage queues, the parked SDF residuals, the in-flight bundle records,
// the watermarks, the pools of idle plans, the GroupByKey buffers and the
// finalization reference counts. Bundles run on goroutines of their own (at
// most Parallelism at a time) and touch only what they were handed: the
// encoded input chunks (read-only, shared) and a plan lent to them. A
// grouping task (below) is lent its stage's buffer the same way: at most
// one task per GroupByKey, and the owner does not touch the buffer until
// the task reports back. Tasks report back on channels; bundle finalization
// callbacks do the same. So there are no locks.
//
// # Data
//
// Elements cross stage boundaries as encoded windowed values, in batches:
// the bytes one bundle wrote to one PCollection, with element end offsets.
// A batch is shared read-only by every stage reading that PCollection; each
// reader keeps its own cursor. A bundle takes up to MaxBundleSize elements
// from the front of its stage's queue without copying them. Bundles of a
// splittable stage take one element each, so the restrictions of an SDF
// (one per Kafka partition, later) run in parallel and checkpoint
// independently.
//
// # Watermarks
//
// A stage's output watermark is the minimum of its input watermark (the
// output watermarks of the stages producing its Upstream PCollections) and
// its holds: the smallest event time among its queued and in-flight
// elements, for a splittable stage the watermark each parked residual
// reported (or the residual's own event time when its DoFn has no watermark
// estimator), and for a GroupByKey the end of the earliest window with
// buffered data (the timestamp its pane will have). Impulse's output
// watermark is the end of time once it has fired. Watermarks only move
// forward. They are recomputed after every event, stage by stage in
// topological order.
//
// # Grouping
//
// A GroupByKey stage (plan.KindGroup) runs grouping tasks instead of
// bundles: a task takes the stage's whole queue and its buffer (package
// group), adds the elements and fires the windows the input watermark has
// passed, on a goroutine of its own. It runs when elements are queued or
// when the input watermark passes the buffer's next deadline (a window
// end, or a window's expiry). Each queued batch carries the input
// watermark at the time it was queued (its arrival): lateness is judged
// against it, since the input watermark may pass an element while it
// waits in the queue. Fired panes go downstream as one batch.
//
// # Timers
//
// A stateful stage with timer families owns a timer.Store. A bundle's
// timer writes are applied with its state commit; a bundle either takes
// queued elements or delivers the due timers (fireTimers decides), never
// both. Live timers hold the stage's output watermark at their hold time.
// The loop wakes for the earliest processing-time timer as it does for
// parked residuals.
//
// # Residuals
//
// When an SDF returns sdf.ResumeProcessingIn(d), the bundle's
// plan.Checkpoint() yields the residual; it is parked for d (a min-heap on
// the due time, one timer) and then queued again at its stage.
//
// # Bundle finalization
//
// A bundle whose DoFns registered beam.BundleFinalization callbacks gets a
// reference count: one reference for every batch of its outputs still
// queued or being processed anywhere downstream, transitively (a bundle's
// outputs inherit the references of every batch it consumed), and one for
// every GroupByKey window holding elements derived from it, until the
// window fires (its panes' batch then carries the reference on). When the
// count reaches zero, every stage that its outputs reached has finished
// processing them, and plan.Finalize runs the callbacks (off the owner
// goroutine). So the guarantee is: callbacks run after everything derived
// from the bundle's outputs has been processed by the bundles of all
// downstream stages, including their FinishBundle (where sinks flush),
// windows included: outputs waiting in a window wait for it to fire. A
// bundle whose outputs stay in its own stage (a read fused with its sink)
// is finalized as soon as it completes. Residuals do not carry references:
// they are the SDF's remaining work, not its output. A cancelled or failed
// run drops pending finalizations (at-least-once: an unacknowledged source
// redelivers).
//
// A Kafka batch's finalization is its acknowledgement (what makes it
// committable). The source is also told, once, when every reference left
// is a window's (Batch.Release): the batch then stops counting against the
// source's in-flight bounds, which bound queues, not windows.
//
// # Failure and cancellation
//
// A bundle failure (user error or panic) cancels the run: no new bundles
// start, in-flight ones are cancelled and awaited, every plan is taken down,
// and Run returns the failure. There are no retries yet. Cancelling ctx does
// the same and Run returns ctx.Err().
package engine

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"runtime/debug"
	"slices"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/kafkasource"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/timer"
	"github.com/streams-dev/streams/localrunner/internal/userstate"
	"github.com/streams-dev/streams/localrunner/internal/worker"
	"github.com/streams-dev/streams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config of one run.
type Config struct {
	Plan *plan.Plan
	// Parallelism is the maximum number of bundles running at once (> 0).
	Parallelism int
	// MaxBundleSize is the maximum number of elements in a bundle (> 0).
	MaxBundleSize int
	Logger        *slog.Logger
	Hooks         Hooks
	// Kafka configures the native Kafka sources (KindKafka stages).
	Kafka KafkaConfig
	// DrainTimeout bounds the drain that follows a cancellation when the
	// plan has Kafka sources (> 0 then).
	DrainTimeout time.Duration
	// State, when set, makes the run durable (see Durability): its
	// buffers, user state, timers and source positions are checkpointed
	// into it every CheckpointInterval (> 0 then) and restored from it at
	// the start. The plan's only sources must then be native Kafka reads.
	State              *state.Store
	CheckpointInterval time.Duration
}

// KafkaConfig configures the native Kafka sources; see kafkasource.Config.
type KafkaConfig struct {
	CommitInterval     time.Duration
	CommitRecords      int
	MaxInflightRecords int
	MaxInflightBytes   int64
	RevokeTimeout      time.Duration
	ClientOpts         []kgo.Opt
}

// Hooks observe a run. They are called on the engine's owner goroutine, in
// order: they must return quickly and must not block on the run.
type Hooks struct {
	// BundleDone is called after each bundle, failed ones included.
	BundleDone func(BundleEvent)
	// WatermarkAdvanced is called when a stage's output watermark moves.
	WatermarkAdvanced func(WatermarkEvent)
	// Finalized is called after a bundle's finalization callbacks ran.
	Finalized func(FinalizeEvent)

	// KafkaReport is called by each native Kafka source, on its own
	// goroutine, about once a second and when its assignment changes.
	KafkaReport func(KafkaReport)
	// KafkaCommitted is called after each offset commit of a native Kafka
	// source, on the goroutine that committed.
	KafkaCommitted func(KafkaCommitEvent)

	// Checkpointed is called after each checkpoint of a durable run.
	Checkpointed func(CheckpointEvent)
	// Held is called, when no bundle runs and it changed, with what the
	// run holds in windows, user state and timers.
	Held func(HeldReport)
}

// CheckpointEvent describes a checkpoint of a durable run.
type CheckpointEvent struct {
	// Wait is how long the run took to become quiet (no new source
	// records, queues drained); Write the time to write and sync.
	Wait, Write time.Duration
	// Bytes is the size of the batch written; DiskBytes the state's size
	// on disk after it.
	Bytes     int
	DiskBytes uint64
	// Err is set when the checkpoint failed (the run then fails).
	Err error
}

// Kafka source events; see package kafkasource.
type (
	KafkaReport          = kafkasource.Report
	KafkaPartitionReport = kafkasource.PartitionReport
	KafkaCommitEvent     = kafkasource.CommitEvent
)

// BundleEvent describes a finished bundle.
type BundleEvent struct {
	Stage      string
	Transforms []string // unique names
	Bundle     string
	Elements   int // input elements
	Outputs    int // elements written to other stages
	Residuals  []ResidualEvent
	// Dropped is the number of input elements a GroupByKey dropped as late
	// beyond the allowed lateness of their window.
	Dropped int
	// Timers is the number of fired timers the bundle delivered.
	Timers  int
	Elapsed time.Duration
	Err     error
}

// ResidualEvent describes one SDF checkpoint.
type ResidualEvent struct {
	// Delay is the ResumeProcessingIn the DoFn asked for.
	Delay time.Duration
	// Watermark holds the stage's output watermark until the residual runs.
	Watermark mtime.Time
	// Reported is set when Watermark came from the SDF's watermark
	// estimator (DelayedBundleApplication.output_watermarks).
	Reported bool
}

// WatermarkEvent reports a stage's new output watermark.
type WatermarkEvent struct {
	Stage      string
	Transforms []string
	Watermark  mtime.Time
}

// FinalizeEvent reports a bundle's finalization.
type FinalizeEvent struct {
	Stage  string
	Bundle string
	Err    error
}

type batch struct {
	data []byte
	ends []int // element i ends at ends[i]
	next int   // first element not yet taken
	hold mtime.Time
	fins []*fin
	// arrival is the reading stage's input watermark when the batch was
	// queued: a GroupByKey judges lateness against it.
	arrival mtime.Time
	// lane is the key lane of a stateful stage's batch (stageState.lanes).
	lane int
}

func (b *batch) remaining() int { return len(b.ends) - b.next }

// piece is the part of a batch a bundle took.
type piece struct {
	fins []*fin
}

type inflight struct {
	hold     mtime.Time
	pieces   []piece
	elements int
	timers   int // fired timers delivered
	lane     int // a stateful stage's key lane; -1 for fired timers
}

// fin is a bundle awaiting finalization.
type fin struct {
	stage  *stageState
	bundle string
	plan   worker.Plan
	refs   int
	// held counts the references that are windows of a GroupByKey holding
	// elements derived from the bundle (included in refs).
	held int
	// ack, set for a batch of a Kafka source, replaces plan.Finalize; free
	// is called once, when every reference left is held by windows (the
	// batch no longer occupies queues, only window buffers).
	ack, free func()
	// epoch is the number of checkpoints a durable run had written when
	// the source handed the batch on: it is acknowledged only once a later
	// checkpoint holds everything derived from it.
	epoch int
}

type stageState struct {
	spec       *plan.Stage
	queue      []*batch
	queued     int
	inflight   map[string]*inflight
	idle       []worker.Plan
	out        mtime.Time
	bundleSize int
	// sides is set once every side input of the stage is complete.
	sides *worker.SideInputs
	// src is the consumer of a KindKafka stage and srcWM the watermark it
	// reported last.
	src   *kafkasource.Source
	srcWM mtime.Time
	// in is the input watermark (SDK and group stages) as of the last
	// refresh.
	in mtime.Time
	// grp is the buffer of a KindGroup stage, nil while a grouping task
	// has it. grpHold, grpNext and grpPending are its state after the last
	// task: the smallest timestamp of a pane still to fire, the watermark
	// past which it has work, and the number of windows waiting to fire;
	// grpNextProc the processing time at which a trigger may fire a pane
	// (zero: none).
	grp         *group.Buffer[*fin]
	cmb         *worker.Combiner // the CombineFn of a combining GroupByKey
	grpHold     mtime.Time
	grpNext     mtime.Time
	grpPending  int
	grpNextProc time.Time
	// store holds the user state of a stateful stage; each bundle works in
	// a transaction committed when it succeeds.
	store userstate.Store
	// lanes spread a stateful stage's elements over parallel bundles by
	// the hash of their encoded key: a lane has at most one bundle in
	// flight (busy), so a key's state is never in two bundles; queued
	// counts its queued elements. A bundle of fired timers takes every
	// lane. Stateless stages have none.
	lanes []lane
	// keyLen and wdec find the key of an encoded windowed KV (keyLen:
	// more than one lane only).
	keyLen func([]byte) (int, error)
	wdec   exec.WindowDecoder
	// late, for a stateful stage whose windows expire (not the global
	// window), drops the elements of windows already expired when they
	// arrive.
	late *lateFilter
	// timers are the live timers of a stateful stage with timer families;
	// lastFired is set when its last bundle delivered timers.
	timers    *timer.Store
	lastFired bool
	// testNext is the next event of a KindTestStream stage, testWM its
	// output watermark; testDone is set once every event was played.
	testNext int
	testWM   mtime.Time
	testDone bool
}

// groupDone is the result of a grouping task.
type groupDone struct {
	stage   *stageState
	id      string
	buf     *group.Buffer[*fin]
	res     *group.Result[*fin]
	elapsed time.Duration
	err     error
}

type sourceEvent struct {
	stage *stageState
	ev    kafkasource.Event
}

type sourceExit struct {
	stage *stageState
	err   error
}

type parked struct {
	due   time.Time
	stage *stageState
	res   worker.Residual
}

type parkedHeap []*parked

func (h parkedHeap) Len() int           { return len(h) }
func (h parkedHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h parkedHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *parkedHeap) Push(x any)        { *h = append(*h, x.(*parked)) }
func (h *parkedHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

type finalizeDone struct {
	f   *fin
	err error
	ok  bool // the plan may be reused
}

// engine is the state of one run, owned by the goroutine in Run.
type engine struct {
	cfg       Config
	log       *slog.Logger
	stages    []*stageState // topological
	byID      map[string]*stageState
	producers map[string]*stageState

	results   chan *worker.Result
	grouped   chan groupDone
	finalized chan finalizeDone
	parked    parkedHeap
	awaiting  map[*fin]bool
	// sideStores keeps every element written to a PCollection that feeds a
	// side input, until the run ends.
	sideStores map[string][]worker.Chunk

	// Native Kafka sources: they send on sourced, and on sourceExit
	// (buffered, one per source) when Run returns; finished is closed
	// when the loop no longer takes events or acknowledges batches.
	sourced     chan sourceEvent
	sourceExits chan sourceExit
	finished    chan struct{}
	liveSources int
	stopSrc     context.CancelFunc
	// draining is set when ctx is cancelled and the plan has Kafka
	// sources: they stop fetching, and what they handed on is processed
	// (without SDF residuals) until DrainTimeout.
	draining bool

	running, finalizing int
	held                HeldReport // last Held report, if heldSent
	heldSent            bool
	seq                 int
	cancelRun           context.CancelFunc // cancels the bundles' context
	stopping            bool
	err                 error
	cancelled           error
	metrics             *Metrics

	// Durable runs (cfg.State set): checkpointing is set from the time a
	// checkpoint is due until it is written; meanwhile no source event is
	// taken and no timer fires, so the run goes quiet. epoch counts the
	// checkpoints written; unsaved are the Kafka batches processed since
	// the last one, acknowledged by the next; positions is, per source
	// stage, where the batches handed on end; active is set when anything
	// happened since the last checkpoint.
	// virtual is set when the plan has a TestStream: processing time is
	// then clock, which only its events move.
	virtual bool
	clock   time.Time

	durable       bool
	checkpointing bool
	ckptStart     time.Time
	epoch         int
	unsaved       []*fin
	positions     map[*stageState]map[sourcePartition]int64
	saved         map[sourcePartition]int64
	active        bool
}

// sourcePartition names a Kafka partition read by a consumer group.
type sourcePartition struct {
	group, topic string
	partition    int32
}

// Run executes the plan until every stage is drained (bounded pipelines),
// ctx is cancelled (then it returns ctx.Err()) or a bundle fails (then it
// returns a *worker.TransformError). The returned metrics cover the bundles
// that succeeded.
func Run(ctx context.Context, cfg Config) (*Metrics, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &engine{
		cfg:        cfg,
		log:        cfg.Logger,
		byID:       map[string]*stageState{},
		producers:  map[string]*stageState{},
		results:    make(chan *worker.Result),
		grouped:    make(chan groupDone),
		finalized:  make(chan finalizeDone),
		awaiting:   map[*fin]bool{},
		sideStores: map[string][]worker.Chunk{},
		metrics:    newMetrics(cfg.Plan.TransformNames),
		sourced:    make(chan sourceEvent),
		finished:   make(chan struct{}),
		durable:    cfg.State != nil,
		positions:  map[*stageState]map[sourcePartition]int64{},
		saved:      map[sourcePartition]int64{},
	}
	for _, s := range cfg.Plan.Stages {
		st := &stageState{spec: s, inflight: map[string]*inflight{}, out: mtime.MinTimestamp, in: mtime.MinTimestamp, bundleSize: cfg.MaxBundleSize, srcWM: mtime.MinTimestamp, grpHold: mtime.MaxTimestamp, grpNext: mtime.MaxTimestamp, testWM: mtime.MinTimestamp}
		if s.Kind == plan.KindTestStream {
			e.virtual, e.clock = true, time.Now()
		}
		if s.Splittable {
			st.bundleSize = 1
		}
		e.stages = append(e.stages, st)
		e.byID[s.ID] = st
		for _, si := range s.SideInputs {
			for _, src := range si.Sources {
				e.sideStores[src] = nil
			}
		}
	}
	for p, sid := range cfg.Plan.Producers {
		e.producers[p] = e.byID[sid]
	}
	// Build one plan per stage before running anything, so what the SDK
	// cannot execute fails the run up front.
	for _, st := range e.stages {
		if st.spec.Kind == plan.KindKafka {
			src, err := kafkasource.New(kafkasource.Config{
				Read:               st.spec.Kafka,
				MaxBatch:           cfg.MaxBundleSize,
				CommitInterval:     cfg.Kafka.CommitInterval,
				CommitRecords:      cfg.Kafka.CommitRecords,
				MaxInflightRecords: cfg.Kafka.MaxInflightRecords,
				MaxInflightBytes:   cfg.Kafka.MaxInflightBytes,
				RevokeTimeout:      cfg.Kafka.RevokeTimeout,
				ClientOpts:         cfg.Kafka.ClientOpts,
				Logger:             e.log.With("stage", st.spec.ID),
				Report:             cfg.Hooks.KafkaReport,
				Committed:          cfg.Hooks.KafkaCommitted,
				Resume:             e.resumeFunc(st.spec.Kafka.Config.Group),
			})
			if err != nil {
				e.teardown(ctx)
				return e.metrics, err
			}
			st.src = src
			e.liveSources++
			continue
		}
		if st.spec.Kind == plan.KindGroup {
			gc := group.Config{Input: st.spec.Group.Coder, Strategy: st.spec.Group.Strategy, KeepDropped: st.spec.Group.Dropped != ""}
			if st.spec.Group.Combine != nil {
				cmb, err := worker.NewCombiner(ctx, st.spec)
				if err != nil {
					e.teardown(ctx)
					return e.metrics, err
				}
				st.cmb, gc.Combiner = cmb, cmb
			}
			buf, err := group.New[*fin](gc)
			if err != nil {
				e.teardown(ctx)
				return e.metrics, fmt.Errorf("localrunner: %s %v: %w", st.spec.ID, st.spec.Names, err)
			}
			st.grp = buf
			continue
		}
		if st.spec.Kind != plan.KindSDK {
			continue
		}
		if st.spec.Stateful {
			st.store = userstate.NewExpiring(st.spec.StateWindow, st.spec.StateAllowedLateness)
			n := 1
			if st.spec.StateKey != nil {
				n = max(1, cfg.Parallelism)
				st.keyLen = group.KeyLength(st.spec.StateKey)
			}
			st.lanes = make([]lane, n)
			if st.spec.StateWindow != nil {
				st.wdec = exec.MakeWindowDecoder(st.spec.StateWindow)
				if st.spec.StateWindow.Kind != coder.GlobalWindow {
					st.late = &lateFilter{
						dec:      st.wdec,
						enc:      exec.MakeWindowEncoder(st.spec.StateWindow),
						lateness: st.spec.StateAllowedLateness,
					}
				}
			}
		}
		if len(st.spec.Timers) > 0 {
			ts, err := timer.New(st.spec.Timers, group.KeyLength)
			if err != nil {
				e.teardown(ctx)
				return e.metrics, fmt.Errorf("localrunner: %s %v: %w", st.spec.ID, st.spec.Names, err)
			}
			st.timers = ts
		}
		p, err := worker.NewPlan(st.spec)
		if err != nil {
			e.teardown(ctx)
			return e.metrics, err
		}
		st.idle = append(st.idle, p)
	}
	if cfg.State != nil {
		if err := e.restore(); err != nil {
			e.teardown(ctx)
			return e.metrics, err
		}
	}
	if err := ctx.Err(); err != nil {
		e.teardown(ctx)
		return e.metrics, err
	}
	e.log.Info("localrunner: running", "stages", len(e.stages), "unbounded", cfg.Plan.Unbounded, "parallelism", cfg.Parallelism)
	err := e.loop(ctx)
	e.teardown(ctx)
	return e.metrics, err
}

func (e *engine) loop(ctx context.Context) (err error) {
	// Bundles are cancelled by the run (failure, cancellation without
	// sources, end of a drain), not directly by ctx: a drain lets them
	// finish.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	e.cancelRun = cancel
	if err := e.fireImpulses(); err != nil {
		return err
	}
	defer e.stopSources()
	e.startSources(ctx)
	e.refreshWatermarks()
	var drainDue <-chan time.Time

	wake := time.NewTimer(time.Hour)
	wake.Stop()
	defer wake.Stop()
	var ckptDue <-chan time.Time
	if e.durable {
		t := time.NewTicker(e.cfg.CheckpointInterval)
		defer t.Stop()
		ckptDue = t.C
		defer e.finalCheckpoint()
	}
	done := ctx.Done()
	for {
		if !e.stopping {
			e.schedule(runCtx)
		}
		if e.durable && !e.stopping && e.running == 0 && e.quiet() && (e.checkpointing || e.draining && len(e.unsaved) > 0) {
			e.checkpoint()
		}
		if !e.stopping && e.running == 0 && e.finalizing == 0 && e.playTestStream() {
			e.refreshWatermarks()
			continue
		}
		if e.running == 0 && e.finalizing == 0 {
			if e.stopping || e.drained() {
				break
			}
			if _, waiting := e.nextTimer(); !waiting && len(e.parked) == 0 && e.liveSources == 0 && !e.draining {
				// Work is queued but nothing runs, nothing is parked and
				// nothing can start: a planner bug, not a user error.
				e.fail(fmt.Errorf("localrunner: stuck with queued elements and nothing runnable (stages %s)", e.queuedStages()))
				break
			}
		}
		var due <-chan time.Time
		if !e.stopping && !e.draining {
			next, ok := e.nextTimer()
			if len(e.parked) > 0 && (!ok || e.parked[0].due.Before(next)) {
				next, ok = e.parked[0].due, true
			}
			if ok {
				wake.Reset(time.Until(next))
				due = wake.C
			}
		}
		sourced := e.sourced
		if e.checkpointing {
			sourced = nil // go quiet: the sources wait
		}
		select {
		case <-ckptDue:
			if e.active && !e.checkpointing && !e.stopping {
				e.checkpointing, e.ckptStart = true, time.Now()
			}
		case r := <-e.results:
			e.onResult(r)
		case g := <-e.grouped:
			e.onGrouped(g)
		case f := <-e.finalized:
			e.onFinalized(f)
		case <-due:
			e.unpark(time.Now())
		case se := <-sourced:
			e.onSourced(se)
		case x := <-e.sourceExits:
			e.liveSources--
			if x.err != nil && !e.stopping {
				e.log.Error("localrunner: kafka source failed", "stage", x.stage.spec.ID, "error", x.err)
				e.fail(x.err)
			}
		case <-done:
			done = nil
			if e.err == nil {
				e.cancelled = ctx.Err()
			}
			if e.liveSources > 0 && !e.stopping {
				// The sources see ctx too and stop fetching; what they
				// handed on is processed and acknowledged.
				e.draining = true
				drainDue = time.After(e.cfg.DrainTimeout)
				break
			}
			e.stopping = true
			cancel()
		case <-drainDue:
			drainDue = nil
			e.log.Warn("localrunner: drain timed out", "timeout", e.cfg.DrainTimeout)
			e.stopping = true
			cancel()
		}
		wake.Stop() // Go >= 1.23 timers: no stale tick after Stop or Reset.
		if !e.stopping {
			// Once stopping, results are dropped and residuals not parked:
			// the watermarks freeze where they are rather than jump to the
			// end of time.
			e.refreshWatermarks()
			e.reportHeld()
		}
	}
	if e.err != nil {
		return e.err
	}
	return e.cancelled
}

// nextTimer returns when the earliest processing-time timer of any stage
// is due; ok is false when there is none.
func (e *engine) nextTimer() (next time.Time, ok bool) {
	if e.virtual {
		return next, false // processing time moves with the TestStream's events
	}
	for _, s := range e.stages {
		if t := s.grpNextProc; !t.IsZero() && (!ok || t.Before(next)) {
			next, ok = t, true
		}
		if s.timers == nil {
			continue
		}
		if t, has := s.timers.NextProcessing(); has && (!ok || t.Before(next)) {
			next, ok = t, true
		}
	}
	return next, ok
}

func (e *engine) queuedStages() string {
	var ids []string
	for _, s := range e.stages {
		if s.queued > 0 || s.grpPending > 0 {
			ids = append(ids, s.spec.ID)
		}
	}
	return fmt.Sprint(ids)
}

func (e *engine) drained() bool {
	if e.liveSources > 0 {
		// A draining source exits once its batches are acknowledged and
		// committed.
		return false
	}
	if len(e.parked) > 0 && !e.draining {
		return false
	}
	for _, s := range e.stages {
		if s.queued > 0 || s.spec.Kind == plan.KindTestStream && !s.testDone {
			return false
		}
		// Windows waiting to fire and live timers keep a run going, but
		// not a drain: their elements are not acknowledged, so the sources
		// deliver them again.
		if (s.grpPending > 0 || s.timers != nil && s.timers.Len() > 0) && !e.draining {
			return false
		}
	}
	return true
}

// fireImpulses delivers the one element each Impulse emits: an empty
// []byte (bytes coder: a zero length) at the minimum timestamp in the
// global window, not fired by a trigger.
func (e *engine) fireImpulses() error {
	data, ends, minTS, err := globalWindowed([]plan.TestStreamElement{{Encoded: []byte{0}, EventTime: mtime.MinTimestamp}})
	if err != nil {
		return fmt.Errorf("localrunner: encoding the impulse: %w", err)
	}
	for _, s := range e.stages {
		if s.spec.Kind != plan.KindImpulse {
			continue
		}
		for _, p := range s.spec.Outputs {
			e.deliver(p, data, ends, minTS, nil)
		}
	}
	return nil
}

// sidesReady reports whether a stage's side inputs are complete: every
// stage producing them has an output watermark at the end of time (the
// planner refuses windowed side inputs from unbounded PCollections, which
// would need serving window by window). The first time, it indexes them
// for the stage's bundles.
func (e *engine) sidesReady(s *stageState) bool {
	if len(s.spec.SideInputs) == 0 || s.sides != nil {
		return true
	}
	for _, si := range s.spec.SideInputs {
		for _, src := range si.Sources {
			if p := e.producers[src]; p != nil && p.out < mtime.MaxTimestamp {
				return false
			}
		}
	}
	sides, err := worker.NewSideInputs(s.spec.SideInputs, func(src string) []worker.Chunk { return e.sideStores[src] })
	if err != nil {
		e.fail(err)
		return false
	}
	s.sides = sides
	return true
}

// enqueue queues a batch for s, and returns how many element windows a
// stateful stage dropped as late.
func (s *stageState) enqueue(b *batch) (dropped int) {
	b.arrival = s.in
	if len(s.lanes) > 1 {
		return s.enqueueLanes(b)
	}
	if s.late != nil {
		dropped = s.late.drop(b)
	}
	if s.lanes != nil {
		s.lanes[0].queued += b.remaining()
	}
	s.queue = append(s.queue, b)
	s.queued += b.remaining()
	return dropped
}

// runnable reports whether a bundle (or grouping task) of s can start.
func (e *engine) runnable(s *stageState) bool {
	switch s.spec.Kind {
	case plan.KindSDK:
		if s.lanes != nil {
			// A stateful stage runs a bundle per idle lane, or one of
			// fired timers once no bundle runs (a key's state is never in
			// two bundles).
			if e.fireTimers(s) {
				return len(s.inflight) == 0 && e.sidesReady(s)
			}
			return s.idleLane() >= 0 && e.sidesReady(s)
		}
		return s.queued > 0 && e.sidesReady(s)
	case plan.KindGroup:
		due := !s.grpNextProc.IsZero() && !e.draining && !e.checkpointing && !e.now().Before(s.grpNextProc)
		return s.grp != nil && (s.queued > 0 || s.in > s.grpNext || due)
	}
	return false
}

// schedule starts bundles while there is room, most downstream stage first
// (draining before producing more keeps the queues short).
func (e *engine) schedule(ctx context.Context) {
	for e.running < e.cfg.Parallelism {
		var s *stageState
		for i := len(e.stages) - 1; i >= 0; i-- {
			if e.runnable(e.stages[i]) {
				s = e.stages[i]
				break
			}
		}
		if s == nil {
			return
		}
		if s.spec.Kind == plan.KindGroup {
			e.startGroup(s)
			continue
		}
		e.seq++
		b := &worker.Bundle{ID: fmt.Sprintf("b%d", e.seq), Stage: s.spec, SideInputs: s.sides}
		if s.store != nil {
			b.State = userstate.Begin(s.store)
		}
		var fl *inflight
		switch {
		case s.lanes == nil:
			fl = s.take(b, 0)
		case e.fireTimers(s):
			s.lastFired = true
			fl = s.fire(b, e.now())
			fl.lane = -1
			for i := range s.lanes {
				s.lanes[i].busy = true
			}
		default:
			s.lastFired = false
			l := s.idleLane()
			fl = s.take(b, l)
			fl.lane = l
			s.lanes[l].busy = true
		}
		if n := len(s.idle); n > 0 {
			b.Plan, s.idle = s.idle[n-1], s.idle[:n-1]
		}
		s.inflight[b.ID] = fl
		e.running++
		go func() { e.results <- process(ctx, b) }()
	}
}

// fireTimers reports whether the next bundle of a stage delivers its due
// timers rather than queued elements. Elements go first when they are
// older than the earliest due event-time timer (as prism orders them);
// due processing-time timers alternate with elements, so a backlog does
// not starve them.
func (e *engine) fireTimers(s *stageState) bool {
	if s.timers == nil || e.draining || e.checkpointing {
		return false
	}
	now := e.now()
	if !s.timers.Due(s.in, now) {
		return false
	}
	if s.queued == 0 {
		return true
	}
	if next := s.timers.NextEvent(); next < mtime.MaxTimestamp && next <= s.in && next < s.queueHold() {
		return true
	}
	t, ok := s.timers.NextProcessing()
	return ok && !t.After(now) && !s.lastFired
}

func (s *stageState) queueHold() mtime.Time {
	h := mtime.MaxTimestamp
	for _, b := range s.queue {
		h = min(h, b.hold)
	}
	return h
}

// fire moves the stage's due timers into b.
func (s *stageState) fire(b *worker.Bundle, now time.Time) *inflight {
	b.Timers = s.timers.Fire(s.in, now)
	fl := &inflight{hold: mtime.MaxTimestamp}
	for _, f := range b.Timers {
		fl.hold = min(fl.hold, f.Hold)
		fl.timers += f.N
	}
	return fl
}

// process runs a bundle; worker.Process does not panic, but a bug there
// must fail the run, not the process.
func process(ctx context.Context, b *worker.Bundle) (r *worker.Result) {
	defer func() {
		if p := recover(); p != nil {
			r = &worker.Result{Bundle: b, Err: fmt.Errorf("localrunner: internal error in bundle %s of %s: %v\n%s", b.ID, b.Stage.ID, p, debug.Stack())}
		}
	}()
	return worker.Process(ctx, b)
}

// take moves up to bundleSize elements from the front of the queue into b.
// Taking part of a batch gives the piece its own finalization references.
func (s *stageState) take(b *worker.Bundle, lane int) *inflight {
	fl := &inflight{hold: mtime.MaxTimestamp}
	taken := false // a batch emptied: the queue is compacted
	for i := 0; i < len(s.queue) && fl.elements < s.bundleSize; i++ {
		q := s.queue[i]
		if q.lane != lane {
			continue
		}
		k := min(q.remaining(), s.bundleSize-fl.elements)
		start := 0
		if q.next > 0 {
			start = q.ends[q.next-1]
		}
		b.Input = append(b.Input, q.data[start:q.ends[q.next+k-1]])
		q.next += k
		fl.elements += k
		fl.pieces = append(fl.pieces, piece{fins: q.fins})
		fl.hold = min(fl.hold, q.hold)
		if q.remaining() == 0 {
			s.queue[i] = nil
			taken = true
		} else {
			for _, f := range q.fins {
				f.refs++
			}
		}
	}
	if taken {
		s.queue = slices.DeleteFunc(s.queue, func(q *batch) bool { return q == nil })
	}
	s.queued -= fl.elements
	if s.lanes != nil {
		s.lanes[lane].queued -= fl.elements
	}
	return fl
}

// lane is one key lane of a stateful stage.
type lane struct {
	queued int
	busy   bool
}

// idleLane returns a lane of a stateful stage with queued elements and no
// bundle in flight, or -1.
func (s *stageState) idleLane() int {
	for i, l := range s.lanes {
		if !l.busy && l.queued > 0 {
			return i
		}
	}
	return -1
}

// enqueueLanes queues a batch for a stateful stage with several lanes: its
// elements are copied into one batch per lane by the hash of their encoded
// key, each holding the batch's references, without the windows that had
// expired (s.late); it returns how many windows it dropped.
func (s *stageState) enqueueLanes(b *batch) (dropped int) {
	n := len(s.lanes)
	parts := make([]*batch, n)
	var r bytes.Reader
	start := 0
	if b.next > 0 {
		start = b.ends[b.next-1]
	}
	for _, end := range b.ends[b.next:] {
		elm := b.data[start:end]
		start = end
		l := 0
		r.Reset(elm)
		if ws, ts, pane, err := exec.DecodeWindowedValueHeader(s.wdec, &r); err == nil {
			body := elm[len(elm)-r.Len():]
			if s.late != nil {
				kept, expired, ok := s.late.judge(ws, ts, pane, body, b.arrival)
				dropped += expired
				if !ok {
					continue
				}
				if kept != nil {
					elm = kept
				}
			}
			if kn, err := s.keyLen(body); err == nil {
				l = int(maphash.Bytes(laneSeed, body[:kn]) % uint64(n))
			}
		} // else the SDK fails on it, in lane 0
		p := parts[l]
		if p == nil {
			p = &batch{hold: b.hold, fins: b.fins, arrival: b.arrival, lane: l}
			parts[l] = p
		}
		p.data = append(p.data, elm...)
		p.ends = append(p.ends, len(p.data))
	}
	first := true
	for _, p := range parts {
		if p == nil {
			continue
		}
		if !first { // the caller counted one reference per batch
			for _, f := range p.fins {
				f.refs++
			}
		}
		first = false
		s.lanes[p.lane].queued += len(p.ends)
		s.queue = append(s.queue, p)
		s.queued += len(p.ends)
	}
	if first { // no element left: an empty batch, as a single lane would queue it
		b.data, b.ends, b.next = nil, nil, 0
		s.queue = append(s.queue, b)
	}
	return dropped
}

// droppedLate counts n late elements (or element windows) that stage s
// dropped, on its first transform.
func (e *engine) droppedLate(s *stageState, n int) {
	e.metrics.addCounter(s.spec.Names[0], "localrunner", "droppedDueToLateness", int64(n))
	e.log.Debug("localrunner: late elements dropped", "stage", s.spec.ID, "transform", s.spec.Names[0], "dropped", n)
}

// laneSeed spreads keys over lanes, the same way for the whole process.
var laneSeed = maphash.MakeSeed()

func (e *engine) onResult(r *worker.Result) {
	e.running--
	s := e.byID[r.Bundle.Stage.ID]
	fl := s.inflight[r.Bundle.ID]
	delete(s.inflight, r.Bundle.ID)
	switch {
	case s.lanes == nil:
	case fl.lane < 0:
		for i := range s.lanes {
			s.lanes[i].busy = false
		}
	default:
		s.lanes[fl.lane].busy = false
	}
	ev := BundleEvent{Stage: s.spec.ID, Transforms: s.spec.Names, Bundle: r.Bundle.ID, Elements: fl.elements, Timers: fl.timers, Elapsed: r.Elapsed, Err: r.Err}
	if r.Err != nil {
		if !e.stopping {
			e.log.Error("localrunner: bundle failed", "stage", s.spec.ID, "bundle", r.Bundle.ID, "error", r.Err)
			e.fail(r.Err)
		}
		e.hookBundle(ev)
		return
	}
	if e.stopping {
		// Cancelled or failed elsewhere: nothing is handed on or finalized.
		s.idle = append(s.idle, r.Plan)
		e.hookBundle(ev)
		return
	}
	e.active = true
	if s.store != nil {
		// The bundle's state and timer changes become visible to the next
		// bundle, all at once.
		err := s.store.Commit(r.Bundle.State)
		for _, tw := range r.Timers {
			if err != nil {
				break
			}
			if s.timers == nil {
				err = fmt.Errorf("a timer written by %s, which declares no timer families", tw.Transform)
				break
			}
			err = s.timers.Set(tw.Transform, tw.Family, tw.Data)
		}
		if err != nil {
			err = fmt.Errorf("localrunner: committing the state of bundle %s of %s: %w", r.Bundle.ID, s.spec.ID, err)
			e.log.Error("localrunner: state commit failed", "stage", s.spec.ID, "bundle", r.Bundle.ID, "error", err)
			s.idle = append(s.idle, r.Plan)
			e.fail(err)
			ev.Err = err
			e.hookBundle(ev)
			return
		}
	}
	e.metrics.add(r.Metrics)
	e.log.Debug("localrunner: bundle done", "stage", s.spec.ID, "bundle", r.Bundle.ID, "elements", fl.elements, "timers", fl.timers, "timers_set", len(r.Timers), "residuals", len(r.Residuals), "elapsed", r.Elapsed)

	var fins []*fin
	seen := map[*fin]bool{}
	for _, p := range fl.pieces {
		for _, f := range p.fins {
			if !seen[f] {
				seen[f] = true
				fins = append(fins, f)
			}
		}
	}
	var own *fin
	if r.Finalize {
		own = &fin{stage: s, bundle: r.Bundle.ID, plan: r.Plan}
		e.awaiting[own] = true
		fins = append(fins, own)
	} else {
		s.idle = append(s.idle, r.Plan)
	}

	pcols := make([]string, 0, len(r.Outputs))
	for p := range r.Outputs {
		pcols = append(pcols, p)
	}
	sort.Strings(pcols)
	for _, p := range pcols {
		out := r.Outputs[p]
		if len(out.Ends) == 0 {
			continue
		}
		ev.Outputs += len(out.Ends)
		e.deliver(p, out.Data, out.Ends, out.MinTS, fins)
	}
	now := time.Now()
	for _, rs := range r.Residuals {
		ev.Residuals = append(ev.Residuals, ResidualEvent{Delay: rs.Delay, Watermark: rs.Watermark, Reported: rs.Reported})
		if e.draining {
			continue // a drain stops SDFs where they are
		}
		if rs.Delay <= 0 {
			s.enqueue(residualBatch(rs))
			continue
		}
		heap.Push(&e.parked, &parked{due: now.Add(rs.Delay), stage: s, res: rs})
	}
	for _, p := range fl.pieces {
		for _, f := range p.fins {
			e.release(f)
		}
	}
	if own != nil && own.refs == 0 {
		e.finalize(own)
	}
	e.hookBundle(ev)
}

// deliver queues elements written to PCollection p at every stage reading
// it, each batch holding a finalization reference to each of fins, and
// keeps them for the side inputs p feeds.
func (e *engine) deliver(p string, data []byte, ends []int, minTS mtime.Time, fins []*fin) {
	for _, cid := range e.cfg.Plan.Consumers[p] {
		s := e.byID[cid]
		if n := s.enqueue(&batch{data: data, ends: ends, hold: minTS, fins: fins}); n > 0 {
			e.droppedLate(s, n)
		}
		for _, f := range fins {
			f.refs++
		}
	}
	if chunks, ok := e.sideStores[p]; ok {
		e.sideStores[p] = append(chunks, worker.Chunk{Data: data, Ends: ends})
	}
}

// startGroup hands a group stage's whole queue and its buffer to a
// grouping task, which buffers the elements and fires the windows the
// input watermark has passed. A task takes every queued element so that a
// window fires only after everything that arrived before its watermark.
func (e *engine) startGroup(s *stageState) {
	e.seq++
	id := fmt.Sprintf("g%d", e.seq)
	fl := &inflight{hold: mtime.MaxTimestamp}
	in := make([]group.Input[*fin], 0, len(s.queue))
	for _, q := range s.queue {
		start := 0
		if q.next > 0 {
			start = q.ends[q.next-1]
		}
		in = append(in, group.Input[*fin]{Data: q.data, Start: start, Ends: q.ends[q.next:], Arrival: q.arrival, Tags: q.fins})
		fl.elements += q.remaining()
		fl.pieces = append(fl.pieces, piece{fins: q.fins})
		fl.hold = min(fl.hold, q.hold)
	}
	clear(s.queue)
	s.queue, s.queued = s.queue[:0], 0
	s.inflight[id] = fl
	buf, wm := s.grp, s.in
	s.grp = nil
	e.running++
	now := e.now()
	go func() {
		d := runGroup(s.spec, buf, in, wm, now)
		d.stage, d.id = s, id
		e.grouped <- d
	}()
}

// runGroup runs a grouping task. It only touches the buffer and the input
// it was handed (and reads the stage's immutable plan).
func runGroup(spec *plan.Stage, buf *group.Buffer[*fin], in []group.Input[*fin], wm mtime.Time, now time.Time) (d groupDone) {
	start := time.Now()
	d = groupDone{buf: buf}
	defer func() {
		if p := recover(); p != nil {
			d.err = fmt.Errorf("localrunner: internal error grouping in %s: %v\n%s", spec.ID, p, debug.Stack())
		}
		d.elapsed = time.Since(start)
	}()
	d.res, d.err = buf.Process(in, wm, now)
	var te *worker.TransformError
	if d.err != nil && !errors.As(d.err, &te) {
		d.err = fmt.Errorf("localrunner: transform %q: %w", spec.Names[0], d.err)
	}
	return d
}

func (e *engine) onGrouped(d groupDone) {
	e.running--
	s := d.stage
	fl := s.inflight[d.id]
	delete(s.inflight, d.id)
	s.grp = d.buf
	ev := BundleEvent{Stage: s.spec.ID, Transforms: s.spec.Names, Bundle: d.id, Elements: fl.elements, Elapsed: d.elapsed, Err: d.err}
	if d.err != nil {
		if !e.stopping {
			e.log.Error("localrunner: grouping failed", "stage", s.spec.ID, "error", d.err)
			e.fail(d.err)
		}
		e.hookBundle(ev)
		return
	}
	if e.stopping {
		e.hookBundle(ev)
		return
	}
	r := d.res
	e.active = true
	s.grpHold, s.grpNext, s.grpPending, s.grpNextProc = r.Hold, r.Next, r.Pending, r.NextProcessing
	if r.Dropped > 0 {
		ev.Dropped = r.Dropped
		e.droppedLate(s, r.Dropped)
	}
	// References: windows take theirs, the fired panes' batches theirs,
	// and only then do the fired windows and the input give theirs up, so
	// no count touches zero on the way.
	for _, f := range r.Held {
		f.refs++
		f.held++
	}
	if len(r.Ends) > 0 {
		ev.Outputs = len(r.Ends)
		for _, p := range s.spec.Outputs {
			if p != s.spec.Group.Dropped {
				e.deliver(p, r.Data, r.Ends, r.MinTS, r.Tags)
			}
		}
	}
	if len(r.DroppedEnds) > 0 {
		e.deliver(s.spec.Group.Dropped, r.DroppedData, r.DroppedEnds, r.DroppedMinTS, r.DroppedTags)
	}
	for _, f := range r.Released {
		f.held--
		e.release(f)
	}
	for _, p := range fl.pieces {
		for _, f := range p.fins {
			e.release(f)
		}
	}
	e.hookBundle(ev)
}

func residualBatch(rs worker.Residual) *batch {
	return &batch{data: rs.Element, ends: []int{len(rs.Element)}, hold: rs.Watermark}
}

func (e *engine) unpark(now time.Time) {
	for len(e.parked) > 0 && !e.parked[0].due.After(now) {
		p := heap.Pop(&e.parked).(*parked)
		p.stage.enqueue(residualBatch(p.res))
	}
}

func (e *engine) release(f *fin) {
	f.refs--
	switch {
	case f.refs == 0:
		e.finalize(f)
	case f.refs == f.held:
		f.uncount()
	}
}

// uncount tells a Kafka batch's source, once, that the batch no longer
// occupies queues (see Batch.Release).
func (f *fin) uncount() {
	if f.free != nil {
		f.free()
		f.free = nil
	}
}

func (e *engine) finalize(f *fin) {
	if f.ack != nil {
		if e.durable && f.epoch >= e.epoch {
			// Processed, but what it left in windows, state and timers is
			// saved only by the next checkpoint, which acknowledges it.
			e.unsaved = append(e.unsaved, f)
			f.uncount()
			return
		}
		// Everything derived from a source batch is processed, even if
		// the run is stopping now: acknowledging it is correct.
		f.ack()
		return
	}
	delete(e.awaiting, f)
	if e.stopping {
		f.stage.idle = append(f.stage.idle, f.plan)
		return
	}
	e.finalizing++
	go func() {
		done := finalizeDone{f: f, ok: true}
		func() {
			defer func() {
				if r := recover(); r != nil {
					done.err = fmt.Errorf("localrunner: bundle finalization callback panicked: %v\n%s", r, debug.Stack())
					done.ok = false
				}
			}()
			done.err = f.plan.Finalize()
		}()
		e.finalized <- done
	}()
}

func (e *engine) onFinalized(d finalizeDone) {
	e.finalizing--
	s := d.f.stage
	if d.ok {
		s.idle = append(s.idle, d.f.plan)
	} else {
		_ = d.f.plan.Down(context.Background())
	}
	if d.err != nil {
		// Finalization is best effort in Beam: a failed callback does not
		// fail the pipeline (the source redelivers what it did not commit).
		e.log.Warn("localrunner: bundle finalization failed", "stage", s.spec.ID, "bundle", d.f.bundle, "error", d.err)
	}
	if h := e.cfg.Hooks.Finalized; h != nil {
		h(FinalizeEvent{Stage: s.spec.ID, Bundle: d.f.bundle, Err: d.err})
	}
}

// fail stops the run: no new bundles, running ones see their context
// cancelled.
func (e *engine) fail(err error) {
	if e.err == nil && e.cancelled == nil {
		e.err = err
	}
	e.stopping = true
	if e.cancelRun != nil {
		e.cancelRun()
	}
}

func (e *engine) hookBundle(ev BundleEvent) {
	if h := e.cfg.Hooks.BundleDone; h != nil {
		h(ev)
	}
}

func (e *engine) refreshWatermarks() {
	for _, s := range e.stages {
		w := mtime.MaxTimestamp
		switch s.spec.Kind {
		case plan.KindKafka:
			w = s.srcWM
		case plan.KindTestStream:
			w = s.testWM
		}
		if s.spec.Kind == plan.KindSDK || s.spec.Kind == plan.KindGroup {
			for _, p := range s.spec.Upstream {
				if u := e.producers[p]; u != nil {
					w = min(w, u.out)
				}
			}
			s.in = w
			w = min(w, s.grpHold) // MaxTimestamp but for group stages
			if s.timers != nil {
				w = min(w, s.timers.Hold())
			}
			for _, b := range s.queue {
				w = min(w, b.hold)
			}
			for _, fl := range s.inflight {
				w = min(w, fl.hold)
			}
			for _, p := range e.parked {
				if p.stage == s {
					w = min(w, p.res.Watermark)
				}
			}
			// A stateful stage drops the state of the windows that expired
			// at w: not at the input watermark but at w, which the queued
			// and in-flight elements also hold (a backlog behind an input
			// watermark past its windows still needs their state), and the
			// live timers (an event-time timer holds w at its fire time at
			// the latest, even without an output timestamp), so a window's
			// state outlives its elements and timers, in flight or not.
			if m, ok := s.store.(*userstate.Memory); ok {
				if n := m.Expire(w); n > 0 {
					e.log.Debug("localrunner: user state of expired windows dropped", "stage", s.spec.ID, "cells", n, "watermark", w)
				}
			}
		}
		if w > s.out {
			s.out = w
			if h := e.cfg.Hooks.WatermarkAdvanced; h != nil {
				h(WatermarkEvent{Stage: s.spec.ID, Transforms: s.spec.Names, Watermark: w})
			}
		}
	}
}

// teardown takes every plan down (DoFn Teardown). Bundles and finalizations
// have all returned by now.
func (e *engine) teardown(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for f := range e.awaiting {
		f.stage.idle = append(f.stage.idle, f.plan)
	}
	e.awaiting = nil
	for _, s := range e.stages {
		for _, p := range s.idle {
			if err := p.Down(ctx); err != nil {
				e.log.Warn("localrunner: teardown failed", "stage", s.spec.ID, "error", err)
			}
		}
		s.idle = nil
		if s.cmb != nil {
			if err := s.cmb.Close(); err != nil {
				e.log.Warn("localrunner: teardown failed", "stage", s.spec.ID, "error", err)
			}
			s.cmb = nil
		}
	}
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
	if b := se.ev.Batch; b != nil && !e.stopping {
		e.seq++
		f := &fin{stage: s, bundle: fmt.Sprintf("src%d", e.seq), ack: b.Ack, free: b.Release, epoch: e.epoch}
		if e.durable {
			e.active = true
			topic, part, next := b.Position()
			e.positions[s][sourcePartition{s.spec.Kafka.Config.Group, topic, part}] = next
		}
		for _, p := range s.spec.Outputs {
			for _, cid := range e.cfg.Plan.Consumers[p] {
				e.byID[cid].enqueue(&batch{data: b.Data, ends: b.Ends, hold: b.MinTS, fins: []*fin{f}})
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

// Durability
//
// A durable run (Config.State) saves a checkpoint every
// CheckpointInterval when anything happened: it stops taking source
// records and firing timers, lets every queued element and grouping task
// run out, and then writes in one Pebble batch, synced, every GroupByKey
// buffer's changes, every stateful stage's user state and timer changes,
// and the position after the last record each Kafka source handed on.
// That is a consistent cut: every record before those positions is either
// fully processed (its outputs flushed by the sinks' FinishBundle) or held
// in the state written. Kafka batches are acknowledged (made committable)
// only once a checkpoint holds what they left behind, so the group's
// committed offsets never pass the saved positions; windows still hold the
// batches whose elements they buffer, as in memory, so the committed
// offsets also stay behind every record waiting in a window. At the start
// the run restores the state and each source resumes from the saved
// position where it is ahead of the group's committed offset. Losing the
// state directory means reading again from the committed offsets.

// stateKey is the key prefix of a stage's state of one kind: stages are
// named by their first transform's unique name, which a pipeline keeps
// across changes elsewhere in it.
func stateKey(ns state.Namespace, s *stageState) state.Key {
	return state.NewKey(ns).Text(s.spec.Names[0])
}

func sourceKey(sp sourcePartition) state.Key {
	return state.NewKey(state.NSSource).Text(sp.group).Text(sp.topic).Int64(int64(sp.partition))
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
		case s.grp != nil:
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
	e.log.Info("localrunner: durable state restored", "dir", st.Dir(), "positions", len(e.saved))
	return nil
}

// resumeFunc returns the Kafka source's Resume for a consumer group: the
// saved positions (read-only once the run started).
func (e *engine) resumeFunc(group string) func(string, int32) (int64, bool) {
	if e.cfg.State == nil {
		return nil
	}
	return func(topic string, partition int32) (int64, bool) {
		next, ok := e.saved[sourcePartition{group, topic, partition}]
		return next, ok
	}
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

// checkpoint writes a checkpoint (the run is quiet: nothing runs, nothing
// is queued) and then acknowledges the Kafka batches it covers. A failed
// write fails the run: going on would acknowledge records whose state is
// not saved.
func (e *engine) checkpoint() {
	start := time.Now()
	ev := CheckpointEvent{}
	if !e.ckptStart.IsZero() {
		ev.Wait = start.Sub(e.ckptStart)
	}
	b := e.cfg.State.NewBatch()
	defer b.Close()
	err := e.writeCheckpoint(b)
	ev.Bytes = b.Size()
	if err == nil {
		err = b.Commit()
	}
	ev.Write = time.Since(start)
	e.checkpointing, e.ckptStart, e.active = false, time.Time{}, false
	if err != nil {
		ev.Err = fmt.Errorf("localrunner: writing a checkpoint to %s: %w", e.cfg.State.Dir(), err)
		e.log.Error("localrunner: checkpoint failed", "error", ev.Err)
		e.fail(ev.Err)
	} else {
		e.epoch++
		for _, f := range e.unsaved {
			f.ack()
		}
		clear(e.unsaved)
		e.unsaved = e.unsaved[:0]
		ev.DiskBytes = e.cfg.State.Stats().DiskBytes
		e.log.Debug("localrunner: checkpoint written", "bytes", ev.Bytes, "wait", ev.Wait, "write", ev.Write)
	}
	if h := e.cfg.Hooks.Checkpointed; h != nil {
		h(ev)
	}
}

func (e *engine) writeCheckpoint(b *state.Batch) error {
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
		for sp, next := range e.positions[s] {
			b.Set(sourceKey(sp), binary.BigEndian.AppendUint64(nil, uint64(next)))
		}
		clear(e.positions[s])
	}
	return nil
}

// finalCheckpoint saves the state when a durable run ends without failure
// and with nothing left in the queues (a drain that timed out drops queued
// elements: their records are read again, from the last checkpoint).
func (e *engine) finalCheckpoint() {
	if e.err != nil || e.stopping || !e.active || e.running > 0 || !e.quiet() {
		return
	}
	e.checkpoint()
}

// now is the processing time: the wall clock, or the TestStream's.
func (e *engine) now() time.Time {
	if e.virtual {
		return e.clock
	}
	return time.Now()
}

// playTestStream plays the next event of a TestStream, once the run is
// quiet (nothing runs and nothing can start): elements go to the stages
// reading the stream, a watermark event moves its output watermark, a
// processing-time event the run's clock. After the last event the
// stream's watermark is the end of time. It reports whether it played one.
func (e *engine) playTestStream() bool {
	for _, s := range e.stages {
		if s.spec.Kind != plan.KindTestStream || s.testDone {
			continue
		}
		if s.testNext == len(s.spec.TestStream) {
			s.testWM, s.testDone = mtime.MaxTimestamp, true
			return true
		}
		ev := s.spec.TestStream[s.testNext]
		s.testNext++
		switch {
		case ev.Watermark != nil:
			s.testWM = max(s.testWM, *ev.Watermark)
		case ev.Advance > 0:
			end := mtime.MaxTimestamp.ToTime()
			if ev.Advance == math.MaxInt64 || e.clock.Add(ev.Advance).After(end) {
				e.clock = end
			} else {
				e.clock = e.clock.Add(ev.Advance)
			}
		case len(ev.Elements) > 0:
			data, ends, minTS, err := globalWindowed(ev.Elements)
			if err != nil {
				e.fail(fmt.Errorf("localrunner: TestStream %q: %w", s.spec.Names[0], err))
				return false
			}
			for _, p := range s.spec.Outputs {
				e.deliver(p, data, ends, minTS, nil)
			}
		}
		return true
	}
	return false
}

// globalWindowed encodes elements as windowed values in the global
// window, not fired by a trigger: what an Impulse and a TestStream emit.
func globalWindowed(es []plan.TestStreamElement) (data []byte, ends []int, minTS mtime.Time, err error) {
	var b bytes.Buffer
	enc := exec.MakeWindowEncoder(coder.NewGlobalWindow())
	minTS = mtime.MaxTimestamp
	for _, el := range es {
		if err := exec.EncodeWindowedValueHeader(enc, window.SingleGlobalWindow, el.EventTime, typex.NoFiringPane(), &b); err != nil {
			return nil, nil, 0, err
		}
		b.Write(el.Encoded)
		ends = append(ends, b.Len())
		minTS = min(minTS, el.EventTime)
	}
	return b.Bytes(), ends, minTS, nil
}
