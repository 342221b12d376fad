package localrunner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/streams-dev/streams/localrunner/internal/engine"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/worker"
	"github.com/streams-dev/streams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Name is the runner's name in Beam's registry (--runner=local).
const Name = "local"

// LateDataAnnotation is the PTransform annotation of a composite that
// receives what a GroupByKey drops: the composite's transform reading the
// GroupByKey's input is fed, instead of that input, the elements the
// GroupByKey drops (late beyond the allowed lateness, or after their
// pane's trigger finished), with their windows and timestamps. Its
// processing counts towards the acknowledgement of their sources (a Kafka
// offset is committed only once it is done). On other runners the
// composite reads the whole input and should emit nothing.
const LateDataAnnotation = plan.LateDataAnnotation

// Errors and events. They are defined by the engine's internal packages and
// re-exported here.
type (
	// UnsupportedError names a transform the runner refuses before running.
	UnsupportedError = plan.UnsupportedError
	// TransformError is a DoFn failure (returned error or panic).
	TransformError = worker.TransformError
	// Hooks observe a run; see engine.Hooks.
	Hooks = engine.Hooks
	// BundleEvent describes a finished bundle.
	BundleEvent = engine.BundleEvent
	// ResidualEvent describes one SDF self-checkpoint.
	ResidualEvent = engine.ResidualEvent
	// WatermarkEvent reports a stage's new output watermark.
	WatermarkEvent = engine.WatermarkEvent
	// FinalizeEvent reports that a bundle's finalization callbacks ran.
	FinalizeEvent = engine.FinalizeEvent
	// KafkaReport is a native Kafka source's state.
	KafkaReport = engine.KafkaReport
	// KafkaPartitionReport is the state of one of its partitions.
	KafkaPartitionReport = engine.KafkaPartitionReport
	// KafkaCommitEvent describes one of its offset commits.
	KafkaCommitEvent = engine.KafkaCommitEvent
	// CheckpointEvent describes a checkpoint of a durable run.
	CheckpointEvent = engine.CheckpointEvent
	// HeldReport is what a run holds in windows, user state and timers.
	HeldReport = engine.HeldReport
	// HeldStage is a stage that holds some of it.
	HeldStage = engine.HeldStage
)

// EncodedDoFn is implemented by DoFns that process elements in their
// encoded form; see WithEncodedDoFns. It is contract.EncodedDoFn, which
// the module's own DoFns (beamtranslate's) assert they implement; any
// other DoFn implements it by having its methods.
type EncodedDoFn = worker.EncodedDoFn

// ErrUnsupported is matched by every *UnsupportedError.
var ErrUnsupported = plan.ErrUnsupported

// Errors of the state directory (WithStateDir), from package state.
var (
	// ErrStateFailed is matched by Run's error when the state directory
	// failed under the run (full disk, read-only file system, I/O error):
	// the checkpoint failed and the run stopped, with nothing committed
	// past the last checkpoint.
	ErrStateFailed = state.ErrFailed
	// ErrStateCorrupt is matched by Run's error when the directory's
	// write-ahead log is corrupt; see WithDiscardCorruptState.
	ErrStateCorrupt = state.ErrCorrupt
	// ErrStateHeld is matched by Run's error when another process (or run)
	// has the directory open.
	ErrStateHeld = state.ErrHeld
)

// Option configures a Runner.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	logger        *slog.Logger
	parallelism   int
	maxBundleSize int
	hooks         Hooks
	nativeKafka   bool
	encodedDoFns  bool
	drainTimeout  time.Duration
	endOfInput    <-chan struct{}
	changelog     engine.ChangelogConfig
	shuffle       bool
	shuffleCfg    engine.ShuffleConfig
	segment       int
	kafka         engine.KafkaConfig
	stateDir      string
	checkpoint    time.Duration
	stateFS       vfs.FS
	discardState  bool
	steps         map[string]int
}

// WithLogger sets the logger. Default: discard (Execute, the entry point
// Beam's registry calls, uses slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithParallelism sets how many bundles may run at once, across all stages.
// Default: GOMAXPROCS, at least 2. Each running bundle holds its own
// instance of the stage's DoFns. An unbounded SDF holds a slot while it
// processes an element, so give at least one slot more than the number of
// restrictions that may run at once. WithStepParallelism raises it when
// its bounds add up to more.
func WithParallelism(n int) Option {
	return optionFunc(func(c *config) { c.parallelism = n })
}

// WithStepParallelism bounds, per step, how many bundles of the stages
// running the step's transforms run at once: steps[name] copies of the
// step, across partition tasks. A step is a top-level scope of the
// pipeline (the first segment of its transforms' unique names); a scope
// joining several steps with contract.StepSeparator ("in+parse+count",
// a chain of DSL steps run in one DoFn) belongs to each of them, and a
// stage running transforms of several bounded steps takes the largest
// bound. A bounded stage with a backlog spreads it over that many
// bundles; a stateful stage runs at most that many of its key lanes at
// once (each key still in one bundle at a time). The bound on all
// bundles (WithParallelism) is raised to the sum of the stages' bounds
// when it is lower, so that each can be reached. A GroupByKey and a
// native Kafka read run in the runner, not in bundles: a step whose
// transforms all run there is not bounded, and a warning says so.
// Whatever the bounds, a stateless stage hands its outputs to the next
// stages in the order its bundles took their input. Default: no step is
// bounded but by WithParallelism. Values must be at least 1; calls add
// to the steps given before.
func WithStepParallelism(steps map[string]int) Option {
	return optionFunc(func(c *config) {
		if c.steps == nil {
			c.steps = map[string]int{}
		}
		for name, n := range steps {
			c.steps[name] = n
		}
	})
}

// WithMaxBundleSize sets the maximum number of elements in a bundle.
// Default 1000. Bundles of a splittable DoFn's processing stage always hold
// one element (one restriction).
func WithMaxBundleSize(n int) Option {
	return optionFunc(func(c *config) { c.maxBundleSize = n })
}

// WithHooks sets functions called as bundles finish, watermarks advance
// and bundles are finalized (on the engine's scheduling goroutine), and as
// native Kafka sources report their state and commit (on theirs). They
// must be quick and must not block on the run. Default: none.
func WithHooks(h Hooks) Option {
	return optionFunc(func(c *config) { c.hooks = h })
}

// WithNativeKafka switches the native Kafka source on or off. On (the
// default), each kafka.Read (package io/kafka) with a consumer group runs
// as a member of that group instead of as its splittable DoFn: Kafka
// assigns the partitions (cooperative-sticky), records go downstream in
// batches of at most WithMaxBundleSize, and offsets are committed on the
// commit policy (WithKafkaCommit), only for records whose every output has
// been processed by every downstream stage. Off, the read runs as the
// portable SDF, as on any runner. A read without a group always runs as the
// SDF.
func WithNativeKafka(on bool) Option {
	return optionFunc(func(c *config) { c.nativeKafka = on })
}

// WithEncodedDoFns switches the encoded fast path on or off. On (the
// default), a stage that is one ParDo between its input and its outputs
// (each perhaps through a WindowInto) runs without the SDK's executor when
// its DoFn implements EncodedDoFn for the stage's coders: the DoFn reads
// each encoded element and emits encoded outputs, which the runner wraps
// in their windowed-value headers. Off, every stage runs in the SDK's
// executor. The outputs are the same bytes either way.
func WithEncodedDoFns(on bool) Option {
	return optionFunc(func(c *config) { c.encodedDoFns = on })
}

// WithKafkaCommit sets the native Kafka source's commit policy: commit the
// finished offsets when interval has passed since the last commit or
// records records were finished since, whichever comes first. Default 1s
// and 10,000. On revocation and at the end of a run the source commits
// regardless.
func WithKafkaCommit(interval time.Duration, records int) Option {
	return optionFunc(func(c *config) { c.kafka.CommitInterval, c.kafka.CommitRecords = interval, records })
}

// WithKafkaInflight bounds what each native Kafka source has handed
// downstream and not yet seen finished: it stops polling while over either
// bound, so a backlog does not grow the heap. Records whose only remaining
// work is waiting in a GroupByKey's windows do not count (they are still
// not committed before their windows fire). Default 50,000 records and
// 64 MiB.
func WithKafkaInflight(records int, bytes int64) Option {
	return optionFunc(func(c *config) { c.kafka.MaxInflightRecords, c.kafka.MaxInflightBytes = records, bytes })
}

// WithKafkaRevokeTimeout bounds how long a rebalance waits for the
// in-flight records of revoked partitions before committing what is
// finished and letting the partitions go. Default 10s.
func WithKafkaRevokeTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.kafka.RevokeTimeout = d })
}

// WithKafkaClientOpts appends franz-go options to the native Kafka
// sources' clients (after the read's own), for example shorter group
// timeouts. Default none.
func WithKafkaClientOpts(opts ...kgo.Opt) Option {
	return optionFunc(func(c *config) { c.kafka.ClientOpts = append(c.kafka.ClientOpts, opts...) })
}

// WithChangelogReplication sets the replication factor of the changelog
// topics the runner creates for the partition tasks of a durable run
// (default: the broker's).
func WithChangelogReplication(rf int16) Option {
	return optionFunc(func(c *config) { c.changelog.ReplicationFactor = rf })
}

// WithShuffle switches the shuffle through Kafka on or off. On (the
// default), a GroupByKey (a Reduce, a Batch) fed by a native Kafka read
// whose key does not follow the read's partitioning reads its input back
// from an internal topic, <group>-<step>-shuffle, keyed by the grouping
// key: its windows and state are then kept per partition of that topic,
// with their own event time and changelog, so any number of processes
// of the group give the results of one, and a crash loses and repeats
// nothing of it (the readers drop what a restored writer writes again).
// Off, each process groups what its own partitions read.
func WithShuffle(on bool) Option {
	return optionFunc(func(c *config) { c.shuffle = on })
}

// WithShufflePartitions sets the partition count of the shuffle topics
// the runner creates (default: as many as the source topic has). An
// existing shuffle topic with another count is then an error.
func WithShufflePartitions(n int32) Option {
	return optionFunc(func(c *config) { c.shuffleCfg.Partitions = n })
}

// WithShufflePurge sets how often a read of an internal topic (a
// shuffle's or a segment's) deletes the records its group committed,
// which no reader needs again (default 30 s, as Kafka Streams purges its
// repartition topics; negative: never, the broker's retention then
// decides).
func WithShufflePurge(every time.Duration) Option {
	return optionFunc(func(c *config) { c.shuffleCfg.PurgeInterval = every })
}

// WithSegment runs segment n of the pipeline alone (default -1: every
// segment). A pipeline's segments are its parts that start at steps
// annotated with contract.SegmentAnnotation (beamtranslate's
// Bindings.Segments, the deployment config's starts_segment): what flows
// into such a step goes through an internal topic,
// <group>-<step>-segment, partitioned as the source is, so each segment
// is deployed and scaled apart, its processes forming a consumer group
// of that topic. Segment 0 starts at the source.
func WithSegment(n int) Option {
	return optionFunc(func(c *config) { c.segment = n })
}

// WithEndOfInput gives a channel that, once closed, says the native
// Kafka sources' input is over (a development run's bounded input): once
// a partition is caught up, its watermark goes to the end of time, so
// every window closes and every event-time timer fires. Records that
// arrive later are late. Default none.
func WithEndOfInput(ch <-chan struct{}) Option {
	return optionFunc(func(c *config) { c.endOfInput = ch })
}

// WithDrainTimeout bounds the drain after ctx is cancelled when the
// pipeline has native Kafka sources: they stop fetching, what they handed
// on is processed and committed, and Run returns within about d. Default
// DefaultDrainTimeout. Without Kafka sources, cancelling stops at once.
func WithDrainTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.drainTimeout = d })
}

// DefaultDrainTimeout bounds the drain when WithDrainTimeout is not given.
const DefaultDrainTimeout = 10 * time.Second

// WithStateDir makes runs durable: GroupByKey buffers, user state, timers
// and the Kafka positions they correspond to are checkpointed into a Pebble
// database in dir every interval (0: 1s), and a run started on the same
// directory resumes from them, so a process killed at any moment gives
// the same windows, state and timers as one that was not (outputs made
// after the last checkpoint are made again: at least once). The
// pipeline's sources must all be native Kafka reads with a consumer group.
// One directory serves one run at a time (it is locked). Losing it means
// reading again from the group's committed offsets, which never pass a
// record still buffered in a window. Default: no directory, state in
// memory.
func WithStateDir(dir string, interval time.Duration) Option {
	return optionFunc(func(c *config) {
		c.stateDir, c.checkpoint = dir, interval
		if interval == 0 {
			c.checkpoint = time.Second
		}
	})
}

// WithDiscardCorruptState makes a run whose state directory holds a
// corrupt write-ahead log (ErrStateCorrupt) start from empty state, after
// a warning, as if the directory were lost: the sources read again from
// the committed offsets. Default false: Run fails, naming the corrupt
// file.
func WithDiscardCorruptState(on bool) Option {
	return optionFunc(func(c *config) { c.discardState = on })
}

// WithStateFS sets the file system of the state directory (Pebble's vfs);
// default the operating system's. Tests inject faults (a full disk, I/O
// errors) with Pebble's vfs/errorfs.
func WithStateFS(fs vfs.FS) Option {
	return optionFunc(func(c *config) { c.stateFS = fs })
}

// Runner runs Beam pipelines in process. A Runner holds no state between
// runs; Run may be called concurrently.
type Runner struct {
	cfg config
}

// New returns a Runner. It fails on invalid options.
func New(opts ...Option) (*Runner, error) {
	c := config{
		logger:        slog.New(slog.DiscardHandler),
		parallelism:   max(2, runtime.GOMAXPROCS(0)),
		maxBundleSize: 1000,
		nativeKafka:   true,
		encodedDoFns:  true,
		shuffle:       true,
		segment:       -1,
		drainTimeout:  DefaultDrainTimeout,
		// -1 asks for the broker's default: Kafka refuses to create a
		// topic with a replication factor of 0.
		changelog: engine.ChangelogConfig{ReplicationFactor: -1},
		kafka: engine.KafkaConfig{
			CommitInterval:     time.Second,
			CommitRecords:      10_000,
			MaxInflightRecords: 50_000,
			MaxInflightBytes:   64 << 20,
			RevokeTimeout:      10 * time.Second,
		},
	}
	for _, o := range opts {
		o.apply(&c)
	}
	var errs []error
	if c.logger == nil {
		errs = append(errs, errors.New("localrunner: WithLogger(nil)"))
	}
	if c.parallelism < 1 {
		errs = append(errs, fmt.Errorf("localrunner: parallelism %d, want >= 1", c.parallelism))
	}
	for _, name := range slices.Sorted(maps.Keys(c.steps)) {
		if n := c.steps[name]; n < 1 {
			errs = append(errs, fmt.Errorf("localrunner: parallelism %d of step %q, want >= 1", n, name))
		}
	}
	if c.maxBundleSize < 1 {
		errs = append(errs, fmt.Errorf("localrunner: max bundle size %d, want >= 1", c.maxBundleSize))
	}
	if c.shuffleCfg.Partitions < 0 {
		errs = append(errs, fmt.Errorf("localrunner: shuffle partitions %d, want >= 0", c.shuffleCfg.Partitions))
	}
	if c.segment < -1 {
		errs = append(errs, fmt.Errorf("localrunner: segment %d, want >= 0 (or -1: all)", c.segment))
	}
	if c.segment > 0 && (!c.shuffle || !c.nativeKafka) {
		errs = append(errs, fmt.Errorf("localrunner: segment %d needs the shuffle and the native Kafka read", c.segment))
	}
	if c.drainTimeout <= 0 {
		errs = append(errs, fmt.Errorf("localrunner: drain timeout %v, want > 0", c.drainTimeout))
	}
	if c.kafka.CommitInterval <= 0 || c.kafka.CommitRecords < 1 {
		errs = append(errs, fmt.Errorf("localrunner: kafka commit policy %v / %d records, want > 0", c.kafka.CommitInterval, c.kafka.CommitRecords))
	}
	if c.kafka.MaxInflightRecords < 1 || c.kafka.MaxInflightBytes < 1 {
		errs = append(errs, fmt.Errorf("localrunner: kafka in-flight bounds %d records / %d bytes, want >= 1", c.kafka.MaxInflightRecords, c.kafka.MaxInflightBytes))
	}
	if c.kafka.RevokeTimeout <= 0 {
		errs = append(errs, fmt.Errorf("localrunner: kafka revoke timeout %v, want > 0", c.kafka.RevokeTimeout))
	}
	if c.stateDir != "" && c.checkpoint < 0 {
		errs = append(errs, fmt.Errorf("localrunner: checkpoint interval %v, want >= 0", c.checkpoint))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Runner{cfg: c}, nil
}

// Execute runs p with default options and slog.Default() as logger. It is
// the function registered with Beam as "local".
func Execute(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
	r, err := New(WithLogger(slog.Default()))
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, p)
}

var jobSeq atomic.Int64

// Run executes p until it is done (bounded), ctx is cancelled (then it
// returns ctx.Err() and a result with the metrics so far) or it fails
// (*UnsupportedError, before anything ran; *TransformError).
func (r *Runner) Run(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
	pp, err := Marshal(p)
	if err != nil {
		return nil, err
	}
	// On a portable runner, DoFns see the submitting process's flags as
	// pipeline options through the worker's provisioning. Here the worker is
	// this process: load them from the flags, as Beam's direct runner does
	// (only options not set yet; safe for concurrent runs).
	beam.PipelineOptions.LoadOptionsFromFlags(nil)
	pl, err := plan.Build(pp, plan.Options{NativeKafka: r.cfg.nativeKafka, EncodedDoFns: r.cfg.encodedDoFns, Shuffle: r.cfg.nativeKafka && r.cfg.shuffle, Segment: r.cfg.segment})
	if err != nil {
		return nil, err
	}
	jobID := fmt.Sprintf("local-%d", jobSeq.Add(1))
	r.cfg.logger.Debug("localrunner: planned", "job", jobID, "stages", len(pl.Stages))
	var st *state.Store
	if r.cfg.stateDir != "" {
		st, err = state.Open(r.cfg.stateDir, state.Options{Logger: r.cfg.logger, FS: r.cfg.stateFS, DiscardCorrupt: r.cfg.discardState})
		if err != nil {
			return nil, fmt.Errorf("localrunner: opening the state directory: %w", err)
		}
		defer func() {
			if err := st.Close(); err != nil {
				r.cfg.logger.Warn("localrunner: closing the state directory", "dir", r.cfg.stateDir, "error", err)
			}
		}()
	}
	m, err := engine.Run(ctx, engine.Config{
		State:              st,
		CheckpointInterval: r.cfg.checkpoint,
		Plan:               pl,
		Parallelism:        r.cfg.parallelism,
		MaxBundleSize:      r.cfg.maxBundleSize,
		Logger:             r.cfg.logger.With("job", jobID),
		Hooks:              r.cfg.hooks,
		Kafka:              r.cfg.kafka,
		DrainTimeout:       r.cfg.drainTimeout,
		EndOfInput:         r.cfg.endOfInput,
		Changelog:          r.cfg.changelog,
		Shuffle:            engine.ShuffleConfig{Partitions: r.cfg.shuffleCfg.Partitions, ReplicationFactor: r.cfg.changelog.ReplicationFactor},
		StepParallelism:    r.cfg.steps,
	})
	return &result{jobID: jobID, metrics: m.Results()}, err
}

// environment is the one environment of marshalled pipelines: every SDK
// transform runs here, in this process.
var environment = &pipepb.Environment{Urn: "streams:env:in_process:v1"}

// Marshal builds p into the portable pipeline proto the runner plans from,
// as every portable runner receives it.
func Marshal(p *beam.Pipeline) (*pipepb.Pipeline, error) {
	edges, _, err := p.Build()
	if err != nil {
		return nil, fmt.Errorf("localrunner: invalid pipeline: %w", err)
	}
	pp, err := graphx.Marshal(edges, &graphx.Options{Environment: environment})
	if err != nil {
		return nil, fmt.Errorf("localrunner: marshalling the pipeline: %w", err)
	}
	return pp, nil
}

type result struct {
	jobID   string
	metrics metrics.Results
}

func (r *result) Metrics() metrics.Results { return r.metrics }
func (r *result) JobID() string            { return r.jobID }
