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
//	  -> internal/engine: queues, watermarks, SDF residual parking, bundle
//	     finalization, failure and cancellation; one owner goroutine
//	  -> internal/worker: exec.UnmarshalPlan, plan.Execute with our
//	     DataManager, plan.Checkpoint, plan.Finalize, plan.Down
//
// Inside a stage the SDK passes values in memory; between stages elements
// travel as encoded windowed values, never re-encoded by the runner.
//
// # What runs
//
// Impulse, ParDo (multiple outputs, bundle finalization, pipeline options),
// Flatten, WindowInto, Reshuffle (an identity here), side inputs from
// bounded PCollections (iterable and multimap views, windowed; so
// passert.Equals, Empty, True and friends work), and splittable DoFns in
// general: self-checkpointing with sdf.ResumeProcessingIn, output
// watermarks from watermark estimators, bounded and unbounded
// (periodic.Impulse runs). Bounded pipelines run to completion; unbounded
// ones until ctx is cancelled.
//
// Refused before anything runs, each with an *UnsupportedError naming the
// transform (errors.Is(err, ErrUnsupported)): GroupByKey and everything
// built on it (CoGroupByKey, combines, passert.Count and Sum), stateful
// DoFns and timers, time-sorted input, TestStream and side inputs from
// unbounded PCollections, all of which arrive with the state issue;
// splittable DoFns with side inputs; transforms the runner does not know
// (cross-language ones included). Drain is not implemented: cancelling
// stops an SDF where it is, without TruncateRestriction.
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
// WithKafkaRevokeTimeout) and at the end. Its watermark is the minimum over
// assigned partitions of the newest timestamp minus the read's MaxSkew; a
// partition without records for IdleDelay counts as now minus MaxSkew.
// Cancelling ctx then drains: the source stops fetching, what it handed on
// is processed and committed within WithDrainTimeout. WithNativeKafka(false)
// keeps the portable SDF.
//
// # Guarantees
//
// Bundle finalization callbacks run after everything derived from the
// bundle's outputs has been processed by every downstream stage (their
// FinishBundle included), or right after the bundle when its outputs stay
// in its own stage; never for a cancelled or failed run. Hooks (WithHooks)
// report bundles, SDF residuals, watermarks and finalizations as they
// happen.
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
