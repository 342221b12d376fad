package engine

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/streams-dev/streams/localrunner/internal/kafkasource"
	"github.com/streams-dev/streams/localrunner/internal/plan"
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
	// EndOfInput, when closed, ends the Kafka sources' input: once a
	// partition is caught up its watermark is the end of time (see
	// kafkasource.Config.EndOfInput).
	EndOfInput <-chan struct{}
	// Changelog configures the changelogs of a durable run's partition
	// tasks (changelog.go).
	Changelog ChangelogConfig
	// Shuffle configures the internal topics of shuffles (shuffle.go).
	Shuffle ShuffleConfig
	// StepParallelism bounds the bundles in flight of the stages running
	// each step's transforms, by step name (stagepar.go).
	StepParallelism map[string]int
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

// engine is the state of one run, owned by the goroutine in Run.
type engine struct {
	cfg       Config
	log       *slog.Logger
	stages    []*stageState // what runs, topological (tasks.go)
	specs     []*stageState // one per plan stage, topological
	byID      map[string]*stageState
	producers map[string]*stageState
	// txnSrc is the source lending its transactional producer under
	// exactly-once delivery (exactlyonce.go), else nil.
	txnSrc *kafkasource.Source
	// syncCuts, cutWanted and cutHeld: see cuts.go.
	syncCuts, cutWanted, cutHeld, cutReadySent bool
	// Partition tasks (tasks.go): taskOf maps each stage kept per task to
	// its Kafka stage, tasking is set for the Kafka stages with tasks, and
	// tasks are the live ones, also in taskList in order. bundleStage is
	// the stage of each bundle in flight.
	taskOf      map[string]string
	tasking     map[string]bool
	tasks       map[sourcePartition]*task
	taskList    []*task
	bundleStage map[string]*stageState
	// Changelogs (changelog.go): logs of the tasking sources of a durable
	// run; logged takes appends' outcomes; pendingAcks are the
	// checkpoints whose appends are in flight; prepares are the sources'
	// requests before restoring a partition; tails (under tailMu) the
	// incomplete changelog checkpoints restores found.
	logs        map[*stageState]*taskLog
	logged      chan logDone
	pendingAcks []*pendingAck
	prepares    chan prepareReq
	tailMu      sync.Mutex
	tails       map[sourcePartition][][]byte
	// Shuffles (shuffle.go): the writers' client, and the marks of the
	// last batch each shuffle read handed on, per partition. writers are
	// the producers of the native Kafka writes (kafkawrite.go), by stage
	// ID, and sends the records of both in flight (sends.go).
	shuf      *shuffles
	readMarks map[sourcePartition][]byte
	writers   map[string]*kafkaWriter
	sends     *sends
	// ordered are the Kafka stages whose tasks write to shuffles: their
	// SDK stages run one bundle at a time per task.
	ordered map[string]bool

	results   chan *worker.Result
	workers   *workers // run bundles, grouping tasks and finalizations
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

	// par holds the stages' bounds and the order of their outputs
	// (stagepar.go).
	par stagePar

	// Durable runs (cfg.State set): checkpointing is set from the time a
	// checkpoint is due until it is written; meanwhile no source event is
	// taken, no bundle starts and no timer fires, so the run goes quiet
	// once the bundles in flight finish. epoch counts the
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
	lastCkpt      time.Time        // when the last checkpoint ended, or the run started
	ckptBytes     int              // the size of the last checkpoint's batch
	inlined       []*worker.Result // bundles run on the loop (inline.go)
	inlineLoad    inlineLoad
	epoch         int
	unsaved       []*fin
	positions     map[*stageState]map[sourcePartition]int64
	// saved is, per partition, the position the last checkpoint saved
	// (the sources read it under savedMu when partitions are assigned).
	saved   map[sourcePartition]int64
	savedMu sync.Mutex
	active  bool
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
		cfg:         cfg,
		log:         cfg.Logger,
		byID:        map[string]*stageState{},
		producers:   map[string]*stageState{},
		results:     make(chan *worker.Result),
		workers:     newWorkers(),
		grouped:     make(chan groupDone),
		finalized:   make(chan finalizeDone),
		awaiting:    map[*fin]bool{},
		sideStores:  map[string][]worker.Chunk{},
		metrics:     newMetrics(cfg.Plan.TransformNames),
		sourced:     make(chan sourceEvent),
		finished:    make(chan struct{}),
		durable:     cfg.State != nil,
		positions:   map[*stageState]map[sourcePartition]int64{},
		saved:       map[sourcePartition]int64{},
		taskOf:      taskStages(cfg.Plan),
		tasking:     map[string]bool{},
		tasks:       map[sourcePartition]*task{},
		bundleStage: map[string]*stageState{},
		logs:        map[*stageState]*taskLog{},
		logged:      make(chan logDone, 64),
		prepares:    make(chan prepareReq),
		tails:       map[sourcePartition][][]byte{},
		readMarks:   map[sourcePartition][]byte{},
		writers:     map[string]*kafkaWriter{},
		sends:       newSends(),
		ordered:     map[string]bool{},
	}
	for _, src := range e.taskOf {
		e.tasking[src] = true
	}
	e.initStagePar()
	for _, s := range cfg.Plan.Stages {
		if s.Kind == plan.KindShuffleWrite {
			e.ordered[s.Shuffle.Source] = true
		}
	}
	for _, s := range cfg.Plan.Stages {
		st := newStageState(s, cfg.MaxBundleSize)
		if s.Kind == plan.KindTestStream {
			e.virtual, e.clock = true, time.Now()
		}
		e.specs = append(e.specs, st)
		if _, ok := e.taskOf[s.ID]; !ok {
			e.byID[s.ID] = st
		}
		for _, si := range s.SideInputs {
			for _, src := range si.Sources {
				e.sideStores[src] = nil
			}
		}
	}
	for p, sid := range cfg.Plan.Producers {
		if st := e.byID[sid]; st != nil {
			e.producers[p] = st
		}
	}
	e.rebuildStages()
	if err := e.openShuffles(ctx); err != nil {
		e.teardown(ctx)
		return e.metrics, err
	}
	if err := e.openWriters(); err != nil {
		e.teardown(ctx)
		return e.metrics, err
	}
	// Build one plan per stage before running anything, so what the SDK
	// cannot execute fails the run up front.
	for _, st := range e.specs {
		if err := e.initStage(ctx, st); err != nil {
			e.teardown(ctx)
			return e.metrics, err
		}
	}
	if err := e.initExactlyOnce(); err != nil {
		e.teardown(ctx)
		return e.metrics, err
	}
	if cfg.State != nil {
		if err := e.restore(); err != nil {
			e.teardown(ctx)
			return e.metrics, err
		}
	}
	if err := e.openLogs(ctx); err != nil {
		e.teardown(ctx)
		return e.metrics, err
	}
	if err := ctx.Err(); err != nil {
		e.teardown(ctx)
		return e.metrics, err
	}
	e.log.Info("localrunner: running", "stages", len(e.specs), "unbounded", cfg.Plan.Unbounded, "parallelism", e.cfg.Parallelism)
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
	runCtx = e.lendProducer(runCtx)
	e.cancelRun = cancel
	if err := e.fireImpulses(); err != nil {
		return err
	}
	defer e.workers.stop() // the loop ends with none running
	defer e.stopSources()
	e.startSources(ctx)
	e.refreshWatermarks()
	var drainDue <-chan time.Time

	wake := time.NewTimer(time.Hour)
	wake.Stop()
	defer wake.Stop()
	var ckptDue <-chan time.Time
	if e.durable {
		if !e.syncCuts { // its checkpoints are at the cuts
			t := time.NewTicker(e.cfg.CheckpointInterval)
			defer t.Stop()
			ckptDue = t.C
		}
		e.lastCkpt = time.Now()
		defer func() {
			e.finalCheckpoint()
			e.awaitLogs()
		}()
	}
	var marksDue <-chan time.Time
	if e.shuf != nil {
		every := cmp.Or(e.cfg.Shuffle.MarkInterval, 100*time.Millisecond)
		t := time.NewTicker(every)
		defer t.Stop()
		marksDue = t.C
	}
	done := ctx.Done()
	for {
		if !e.stopping && !e.cutHeld {
			e.schedule(runCtx)
		}
		if e.takeInline() {
			e.afterEvent()
			continue
		}
		if e.durable && !e.stopping && e.running == 0 && !e.sending() && e.checkpointDue() {
			e.checkpoint()
			e.afterCheckpoint()
			if !e.stopping {
				continue // start the bundles the checkpoint held back
			}
		}
		if !e.stopping && e.running == 0 && e.finalizing == 0 && e.playTestStream() {
			e.refreshWatermarks()
			continue
		}
		if e.running == 0 && e.finalizing == 0 && !e.sending() {
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
			e.onBundleDone(r)
		case g := <-e.grouped:
			e.onGrouped(g)
		case f := <-e.finalized:
			e.onFinalized(f)
		case <-due:
			e.unpark(time.Now())
		case se := <-sourced:
			e.onSourced(se)
		case d := <-e.logged:
			e.onLogged(d)
		case <-e.sends.notify:
			e.onSent()
		case <-marksDue:
			if !e.stopping {
				e.writeMarks()
			}
		case p := <-e.prepares:
			e.onPrepare(p)
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
		e.afterEvent()
	}
	if e.err != nil {
		return e.err
	}
	return e.cancelled
}

// afterEvent brings the watermarks and the held-back report up to date
// after the loop took an event or ran bundles. Once stopping, results
// are dropped and residuals not parked: the watermarks freeze where they
// are rather than jump to the end of time.
func (e *engine) afterEvent() {
	if !e.stopping {
		e.refreshWatermarks()
		e.reportHeld()
	}
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

// teardown takes every plan down (DoFn Teardown). Bundles and finalizations
// have all returned by now.
func (e *engine) teardown(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	e.closeLogs()
	e.closeShuffles()
	e.closeWriters()
	for f := range e.awaiting {
		f.stage.pool.put(f.plan)
	}
	e.awaiting = nil
	all := slices.Clone(e.specs)
	for _, t := range e.taskList {
		for _, c := range t.stages {
			all = append(all, c)
		}
	}
	for _, s := range e.specs {
		for _, p := range s.pool.plans {
			if err := p.Down(ctx); err != nil {
				e.log.Warn("localrunner: teardown failed", "stage", s.spec.ID, "error", err)
			}
		}
		s.pool.plans = nil
	}
	for _, s := range all {
		if s.cmb != nil {
			if err := s.cmb.Close(); err != nil {
				e.log.Warn("localrunner: teardown failed", "stage", s.spec.ID, "error", err)
			}
			s.cmb = nil
		}
	}
}

// now is the processing time: the wall clock, or the TestStream's.
func (e *engine) now() time.Time {
	if e.virtual {
		return e.clock
	}
	return time.Now()
}
