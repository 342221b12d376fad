// Package localrunner is a Beam runner that executes any Beam Go pipeline in
// this process, with the SDK's own executor and no gRPC.
//
// Importing the package registers it with Beam under the name "local", so
// beam.Run(ctx, "local", p), beamx.Run with --runner=local and
// ptest.MainWithDefault(m, "local") use it. Library code that wants options
// calls New(...).Run(ctx, p) instead.
//
// # Route
//
//	p.Build() -> graphx.Marshal -> pipeline proto
//	  -> internal/plan: refusals, SDF expansion, greedy fusion into stages,
//	     one ProcessBundleDescriptor per stage (beam:runner:source:v1 and
//	     beam:runner:sink:v1 ports with windowed-value coders)
//	  -> internal/engine: queues, watermarks, partition tasks, SDF residual
//	     parking, bundle finalization, checkpoints, failure and
//	     cancellation; one owner goroutine
//	  -> internal/kafkasource: the native Kafka consumer-group source
//	  -> internal/changelog: the changelog topics of partition tasks' state
//	  -> internal/shuffle: the records of shuffle and segment topics
//	  -> internal/worker: exec.UnmarshalPlan, plan.Execute with our
//	     DataManager, plan.Checkpoint, plan.Finalize, plan.Down
//	  -> internal/group: GroupByKey buffers, windows and panes
//	  -> internal/userstate: user state, a transaction per bundle
//
// Inside a stage the SDK passes values in memory; between stages elements
// travel as encoded windowed values, never re-encoded by the runner.
//
// # What runs
//
// Impulse, TestStream, ParDo (multiple outputs, bundle finalization,
// pipeline options), Flatten, WindowInto, Reshuffle (an identity here),
// GroupByKey and what
// expands into it (CoGroupByKey, CombinePerKey and Combine.Globally, so
// every passert), side inputs (iterable and multimap views, windowed) from
// bounded PCollections and, in the global window, from unbounded ones,
// stateful DoFns with user state (Value, Bag, Combining, Map, Set and
// OrderedList state) and timers (event time and processing time), and
// splittable DoFns in general: self-checkpointing
// with sdf.ResumeProcessingIn, output watermarks from watermark estimators,
// bounded and unbounded (periodic.Impulse runs). Bounded pipelines run to
// completion; unbounded ones until ctx is cancelled.
//
// Refused before anything runs, each with an *UnsupportedError naming the
// transform (errors.Is(err, ErrUnsupported)): triggers other than the
// default on session windows, OnWindowExpiration, time-sorted input and
// windowed side inputs from unbounded PCollections; splittable DoFns with
// side inputs or user state; transforms the runner does not know
// (cross-language ones included). Drain is not implemented: cancelling
// stops an SDF where it is, without TruncateRestriction.
//
// # Grouping and windows
//
// A GroupByKey is a runner-side stage (internal/group), as in prism: the
// stage writing its input hands the encoded elements to the engine, which
// buffers them by window and by key, keys compared by their encoding
// under the key coder, and hands the stage reading its output encoded
// KV<K, Iterable<V>> windowed values. A CombinePerKey (and what expands
// into one: Combine.Globally, every Sum, Count, Mean...) is lifted: its
// GroupByKey keeps one accumulator per key and window (or pane), adding each
// value as it arrives with the CombineFn's AddInput (MergeAccumulators when
// sessions merge), and emits KV<K, A> to the CombineFn's ExtractOutput in
// the SDK, so memory and checkpoints grow with the live windows and keys,
// not with the elements. The CombineFn runs in the runner, outside any
// bundle: its Setup once, its Teardown at the end; its errors and panics
// fail the run with a *TransformError naming the CombinePerKey. The
// windowing strategy is the input
// PCollection's: global, fixed, sliding and session windows (sessions
// merge per key as elements arrive, windows that overlap or touch, as in
// prism), every trigger the Go SDK makes (on session windows only the
// default), discarding or accumulating panes, allowed lateness,
// end-of-window output timestamps.
//
// A window fires when the input watermark passes its end: one ON_TIME pane
// per key (the first; also the last when the allowed lateness is zero).
// An element is late when the input watermark had passed its window's end
// when it arrived at the GroupByKey. Late within the allowed lateness, it
// fires at once in a LATE pane (index and non-speculative index one up);
// later than that, it is dropped and counted in the counter
// "droppedDueToLateness" (namespace "localrunner") of the GroupByKey and
// in BundleEvent.Dropped; a composite annotated with LateDataAnnotation
// that reads the GroupByKey's input receives them instead of that input
// (the DSL's Reduce sends them to the dead-letter queue that way), and
// their sources are acknowledged only once it processed them. A window is
// forgotten once the watermark passes
// its end plus the allowed lateness. Bounded pipelines end with the
// watermark at the end of time, so every window fires.
//
// Other triggers run per window and key, with prism's semantics: a pane
// fires when its trigger does (EARLY before the end of the window, LATE
// after), at an element or when a processing time comes
// (AfterProcessingTime counts from the engine's clock when the element
// reached the GroupByKey; AfterSynchronizedProcessingTime once the clock
// moved past the first element's arrival); whatever a key holds fires
// ON_TIME when the watermark passes the end (but with Never), and the
// rest in a last pane when the window expires. A trigger that finishes
// closes the window for its key: later elements are dropped and counted
// as late ones; but, as in prism, a lone AfterProcessingTime that fired
// keeps what comes after for the window's end.
//
// Watermarks: the output watermark of a GroupByKey is held at the end of
// the earliest window with buffered data, so its panes are never late
// downstream; an unbounded pipeline fires windows as its sources' (or
// SDFs') watermarks pass them. A GroupByKey in the global window of an
// unbounded PCollection that never ends never fires.
//
// Buffers live in memory; WithStateDir makes them durable (Durability).
//
// # Parallelism and order
//
// At most WithParallelism bundles run at once, across all stages.
// WithStepParallelism bounds the bundles of the stages running a step
// (a top-level scope, or each step of a chain's scope, see
// contract.StepSeparator): that many copies of the step, across
// partition tasks, and a backlog is spread over them; WithParallelism is
// raised to the sum of the bounds when lower. A stateless stage whose
// outputs other stages read hands them on in the order its bundles took
// their input, whatever order they finish in (a bundle that finishes
// early waits, holding its slot), so each Kafka partition's elements
// reach the next stage in offset order; a stateful stage keeps each key's
// order (below). What a stage writes to Kafka itself (a sink fused into
// it) is written by its bundles as they run: with more than one at once,
// records of one partition may reach the topic out of their order.
//
// # User state
//
// A stateful DoFn starts a stage of its own. Its elements are spread over
// key lanes (as many as the parallelism) by the hash of their encoded key;
// each lane runs one bundle at a time, so bundles of different lanes run
// in parallel and a key's state is never in two bundles. A bundle of fired
// timers waits until no bundle runs and takes every lane. The SDK reads and writes
// state through the state API (exec.StateReader) as bytes per transform,
// state ID, encoded key and encoded window (internal/userstate). A bundle
// works in a transaction: it reads the committed state and its own
// changes, and its changes are committed all at once when it succeeds (a
// failed bundle's are dropped). The store is in memory, one per stage;
// WithStateDir makes it durable. State is per key and window, and a
// window's state is dropped once the window expired: when, between two
// bundles of the stage, its output watermark (held by queued elements
// and live timers, so that the timers of a window still see its state)
// has passed the window's max timestamp plus the allowed lateness of the
// DoFn's input; the global window never expires. The state is indexed by
// window, so this costs nothing while no window expires, and the next
// checkpoint deletes what was dropped. Late data is dropped before a
// stateful DoFn, as Beam's runners drop it: an element is queued for the
// stage in the windows that had not expired when it arrived (the stage's
// input watermark had not passed their max timestamp plus the allowed
// lateness), and the windows it loses are counted in the counter
// "droppedDueToLateness" (namespace "localrunner") of the stage's first
// transform; so a window's state, once dropped, is never started again.
// (Prism hands such elements to the DoFn.)
//
// # Timers
//
// A stateful DoFn's timers live in the runner (internal/timer), one set
// per stage: a bundle's timer writes (sets and clears, on the data plane
// as the SDK encodes them) are applied when it succeeds, with its state.
// An event-time timer fires once the stage's input watermark has reached
// its fire time, a processing-time timer once the wall clock has; fired
// timers go to the DoFn's OnTimer in a bundle of their own, never mixed
// with elements. Elements older than the earliest due event-time timer are
// processed first; due processing-time timers alternate with elements, so
// a backlog does not starve them. A live timer holds the stage's output
// watermark at its output timestamp (none for WithNoOutputTimestamp), and
// keeps a bounded run going until it fires.
//
// # TestStream
//
// A TestStream (Beam's testing/teststream) runs as a runner-side stage
// that plays its events one at a time, each once the run is quiet
// (nothing runs, nothing can start): elements enter in the global window
// at their timestamps, watermark events move the stream's output
// watermark, processing-time events move the run's processing clock,
// which in a pipeline with a TestStream is virtual: processing-time
// timers fire as the events advance it, not with the wall clock. After
// the last event the stream's watermark is the end of time.
//
// # Native Kafka read
//
// A kafka.Read (package io/kafka) with a consumer group is not run as its
// splittable DoFn: the planner recognises its Impulse -> listing DoFn ->
// reading SDF by the decoded DoFns and substitutes a runner-side stage
// (internal/kafkasource), a member of the group (cooperative-sticky). It
// hands each poll's records downstream as batches of encoded kafka.Record
// (record timestamp as event time), at most WithMaxBundleSize each, stops
// polling over WithKafkaInflight, and commits per partition the highest
// contiguous offset whose every derived output was processed by every
// downstream stage (the finalization reference counts), on the commit
// policy (WithKafkaCommit), on revocation (bounded wait,
// WithKafkaRevokeTimeout) and at the end. Each partition's watermark is
// its newest timestamp minus the read's MaxSkew. A partition read up to
// its high-water mark and without new records for IdleDelay is idle: it
// keeps its time and is left out of the source's watermark (the minimum
// over the other partitions), or, with the read's IdleWallClock, counts
// as now minus MaxSkew. A partition with a backlog is never idle, even
// while the source pauses over its in-flight bounds or the client hands
// out other partitions' records first; one that never returned a record
// is once a probe (end offsets against the group's position) finds it
// empty. WithEndOfInput ends the input: idle partitions then move to the
// end of time.
//
// # Partition tasks
//
// A Kafka source whose pipeline has a stateful stage keyed by the
// source's partitioning (a GroupByKey or stateful ParDo inside a
// composite annotated with contract.PartitionKeyedAnnotation: a Reduce
// with KeyFollowsPartitioning, a Batch per partition) runs that stage,
// and the stages between it and the source, as one copy per assigned
// partition: a task, with its own queues, buffers, state, timers and the
// partition's own watermark. A record is late only by its partition's
// time; a partition assigned late, or moved from another process, is not
// judged by what other partitions did. Stages downstream that read
// several tasks take the minimum over the live tasks, leaving out idle
// ones with nothing queued or running. A durable run saves each task's
// state under its own prefix with its watermark and restores it when the
// partition is assigned again and the source resumes from the position
// saved with it (see engine's doc.go).
//
// # Shuffles and segments
//
// With WithShuffle (the default), a GroupByKey fed by a native Kafka read
// through stateless stages whose key does not follow the partitioning
// reads its input back from an internal topic, <group>-<step>-shuffle,
// keyed by the grouping key: the stages before it write there per source
// partition task, numbering what they write so that a task restored from
// a checkpoint, which writes again what followed it, has its repeats
// dropped by the readers, and writing their watermarks to every
// partition; the GroupByKey's tasks are the topic's partitions, read by a
// consumer group of the topic's name, their time the minimum over every
// writer's. A step annotated with contract.SegmentAnnotation starts a
// segment: what flows into it goes through <group>-<step>-segment the
// same way, partitioned as the source, and WithSegment(n) runs segment
// n's stages only, so segments are deployed and scaled apart.
// Cancelling ctx then drains: the source stops fetching, what it handed on
// is processed and committed within WithDrainTimeout.
//
// A kafka.Write that is not transactional runs natively too (a
// runner-side stage): the runner produces the records queued there with a
// client made from the write's configuration, and, rather than the
// write's DoFn waiting at each bundle's end for its acknowledgements, the
// stage feeding it goes on, and the batches those records came from are
// committed once the acknowledgements come. A record that fails, or is
// not acknowledged within the write's delivery timeout, fails the run.
// The stage feeding the write ends at its input, so the DSL's chain that
// makes a sink's records runs on the encoded path (below).
// WithNativeKafka(false) keeps the portable SDF and the write's DoFn.
//
// # Encoded DoFns
//
// A stage that is one ParDo between its input and its outputs (each
// output perhaps through a WindowInto) skips the SDK's executor when its
// DoFn implements EncodedDoFn for the stage's coders: the worker hands the
// DoFn each element as the bytes its input coder wrote, and writes what
// the DoFn emits, encoded by it with the output coders, behind windowed-
// value headers the worker makes (the input's windows and pane, or the
// WindowInto's windows). No element is decoded into a Go value by the
// SDK, boxed, or encoded again. The DoFn's Setup and Teardown run as in
// the SDK; errors and panics fail the bundle with a *TransformError
// naming the ParDo. So that such a DoFn's stage keeps that shape, the
// planner ends it after the ParDo (and a WindowInto right after it): what
// reads its outputs starts a stage of its own. The DSL's fused DoFns that
// key messages for a Reduce or a Batch, or make a Kafka sink's records,
// implement it (package beamtranslate), so a source read, parsed and
// keyed for a window or a batch, or transformed and written to a topic,
// costs no executor hops. WithEncodedDoFns(false) runs every stage
// in the SDK's executor, fused as usual; the outputs are the same bytes.
//
// # Guarantees
//
// Bundle finalization callbacks run after everything derived from the
// bundle's outputs has been processed by every downstream stage (their
// FinishBundle included), or right after the bundle when its outputs stay
// in its own stage; never for a cancelled or failed run. Elements
// buffered in a GroupByKey count as not processed: a bundle (or a Kafka
// batch) whose outputs wait in a window is finalized (committed) only
// after the window fired and its panes were processed downstream. With
// in-memory buffers that is the at-least-once rule: an offset is never
// committed while a record it covers exists only in a buffer, so a crash
// redelivers it. The cost is that Kafka commits trail by the windows'
// length. The Kafka in-flight bounds (WithKafkaInflight) do not count
// records whose only remaining work is waiting in windows: they bound
// queues, not windows, so a window larger than the bounds does not stall
// the source. A cancel (drain) does not wait for windows that have not
// fired: their records stay uncommitted and are read again. Hooks
// (WithHooks) report bundles, SDF residuals, watermarks and finalizations
// as they happen.
//
// # Durability
//
// WithStateDir makes runs durable, in a Pebble database (package state).
// Every second (when anything happened) the engine takes a checkpoint: it
// stops taking source records, starting bundles and firing timers, lets
// the bundles and grouping tasks in flight finish (it does not wait for
// the queues between stages to drain, so a backlog behind a slow step
// does not delay it), and writes in one synced batch the changes of
// every GroupByKey buffer (new values, pane bookkeeping, fired and expired
// windows deleted), of every stateful stage's user state (that of expired
// windows deleted) and timers, the elements still queued between stages,
// and the position after the last record each Kafka source handed on.
// That is a consistent cut: every record before those positions is either
// fully processed (its outputs flushed by the sinks' FinishBundle, or
// acknowledged to a native write, whose sends in flight a checkpoint
// waits for), held in the state written, or has its outputs in the queues
// written; a restored run queues those again before its sources start. A
// Kafka batch is acknowledged (made committable) only once a checkpoint
// holds what it left behind, and, as in memory, only once the
// windows buffering its elements fired: the group's committed offsets never
// pass the saved positions nor a record waiting in a window. At the start,
// the state is restored, each GroupByKey takes its saved input watermark as
// a floor for lateness, and each source resumes from the saved position
// where it is ahead of the group's committed offset. What was emitted after
// the last checkpoint is emitted again, identical (at least once); the
// state itself is exactly once. Losing the directory means reading again
// from the committed offsets.
//
// State is keyed by unique names, never by transform IDs (which a change of
// the pipeline may renumber): each stage's by its first transform's, user
// state and timers also by their DoFn's, so it survives changes elsewhere
// in the pipeline. A restart whose pipeline no longer has a transform with
// saved timers is refused, naming it. The
// state is the process's own: with several processes in one consumer group,
// a rebalance that moves a partition does not move the windows holding its
// records (the new owner reads from the committed offset, the old one still
// fires what it holds). A run that restarted from saved positions commits
// them, so after a restart, losing the directory can lose records that
// were waiting in windows restored from it.
//
// A checkpoint that cannot be written (full disk, read-only file system,
// I/O error) fails the run with an error matching ErrStateFailed that
// names the directory and the cause; Hooks.Checkpointed reports it, and
// nothing past the last checkpoint written is acknowledged. A directory
// whose write-ahead log is corrupt is refused at the start
// (ErrStateCorrupt, naming the file) unless WithDiscardCorruptState; one
// that another process holds is refused with ErrStateHeld, naming that
// process's pid.
//
// # Errors and cancellation
//
// A DoFn that returns an error or panics fails the run with a
// *TransformError naming the transform, with the SDK's error (and stack,
// for panics) as its cause. There are no retries yet.
//
// Cancelling ctx stops the run: no new bundles start, running ones see the
// cancelled context and are awaited, every DoFn is torn down, and Run
// returns ctx.Err() (errors.Is(err, context.Canceled) or
// context.DeadlineExceeded) with a non-nil result carrying the metrics so
// far. That is how an unbounded pipeline ends normally; a failure is never
// reported as a context error.
//
// # Imports
//
// The package depends on the Beam SDK only. It must not import the DSL
// (dsl/), its Beam translation (beamtranslate/), the deployment config
// (config/) or the CLI glue (runner/): the runner executes any Beam
// pipeline, ours being one kind. TestForbiddenImports enforces this.
package localrunner
