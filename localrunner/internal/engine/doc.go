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
// independently. A stage whose DoFn keys elements for a combining
// GroupByKey may hand them over as Go values instead (batch.vals,
// values.go): the GroupByKey adds each to its accumulator without
// decoding it, and only a checkpoint that finds them queued encodes
// them.
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
// # Parallelism and order
//
// Config.StepParallelism bounds the bundles in flight of the stages that
// run a step's transforms (a step is a top-level scope; a chain's scope
// joins several with contract.StepSeparator), across their task copies,
// and such a stage with a backlog spreads it over that many bundles.
// Parallelism is raised to the sum of the bounds when lower. A stateless
// stage whose outputs other stages read hands them on in the order its
// bundles took their input: a bundle that finishes before an earlier one
// waits for it, holding its slot (stagepar.go). So a partition's elements
// reach the next stage in offset order whatever the parallelism. When
// nothing else runs, a small bundle of a stateless stage whose bundles
// have been quick runs on the loop's goroutine itself (inline.go).
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
// # Partition tasks
//
// A Kafka source whose pipeline has a stateful stage keyed by the
// source's partitioning (plan.Stage.PartitionKeyed) has tasks: each
// assigned partition gets a copy of every stage between the source and
// such stages, and of the stages after them that read only from tasks
// (tasks.go). A task's copies have their own queues, buffers, user
// state, timers and input watermark, which is the partition's own
// (kafkasource reports it per partition); a shared stage reading copies
// takes the minimum over the live tasks, leaving out idle ones with
// nothing queued or running. Copies share their stage's plans. What the
// copies write goes to the same task's copies downstream, or to the
// shared stages. A task starts when the source announces the partition's
// assignment (before any of its records) and is dropped when the source
// reports it revoked or lost; its bundles in flight then finish into the
// dropped copies. A stage that gives elements event times from their
// payloads (plan.EventTime) derives its output watermark from the event
// times it wrote.
//
// # Shuffles and segments
//
// A GroupByKey whose key does not follow its source's partitioning, and
// the first step of a segment, read their input back from an internal
// topic (plan.insertShuffles, plan's segment.go). The stage writing it
// (a KindShuffleWrite) is kept per task of the source feeding it: it
// writes each element to its partition (the key's, or for a segment the
// source partition's) numbered per writer generation, writes the task's
// watermark to every partition, and holds its batches' references until
// the writes are acknowledged; a checkpoint waits for its writes in
// flight and saves its numbers with the task. The topic is read by a
// Kafka stage of its own whose tasks are its partitions; their
// watermark is the minimum over the writers' (shuffle.go; package
// shuffle has the format). What that stage's group committed is deleted
// from the topic every ShuffleConfig.PurgeInterval (kafkasource's
// purge.go).
//
// # Failure and cancellation
//
// A bundle failure (user error or panic) cancels the run: no new bundles
// start, in-flight ones are cancelled and awaited, every plan is taken down,
// and Run returns the failure. There are no retries yet. Cancelling ctx does
// the same and Run returns ctx.Err().
//
// # Durability
//
// A durable run (Config.State) saves a checkpoint every
// CheckpointInterval when anything happened: it stops taking source
// records, starting bundles and firing timers, lets the bundles and
// grouping tasks in flight finish, and then writes in one Pebble batch,
// synced, every GroupByKey buffer's changes, every stateful stage's user
// state and timer changes, the elements still queued between stages
// (queues.go) and the position after the last record each Kafka source
// handed on. That is a consistent cut: every record before those
// positions is either fully processed (its outputs flushed by the sinks'
// FinishBundle), held in the state written, or has outputs in the queues
// written. Kafka batches are acknowledged (made committable)
// only once a checkpoint holds what they left behind, so the group's
// committed offsets never pass the saved positions; windows still hold the
// batches whose elements they buffer, as in memory, so the committed
// offsets also stay behind every record waiting in a window. At the start
// the run restores the state and each source resumes from the saved
// position where it is ahead of the group's committed offset. Losing the
// state directory means reading again from the committed offsets.
//
// A task's state is kept under its own key prefix (taskKey), with the
// partition's position and watermark, so it is saved, restored and
// deleted apart from other partitions'. With a changelog (changelog.go),
// each checkpoint also appends each task's changes to a compacted topic,
// and the batches it covers are acknowledged only once those appends
// are; when the partition is assigned again, here or elsewhere, its state
// is restored from the changelog unless the local copy is current, and
// the source resumes at the position saved with it.
//
// # Files
//
// A file per concern: engine.go (Config, Run and the owner's loop),
// hooks.go (what a run reports), stage.go (a stage's queue and in-flight
// bundles), schedule.go (which bundle runs next), lanes.go (the key lanes
// of stateful stages), late.go (late data before stateful stages),
// results.go (a finished bundle's outputs), grouping.go (GroupByKey
// tasks), residuals.go (parked SDF residuals), finalize.go (bundle
// finalization and Kafka acknowledgements), watermarks.go, sources.go
// (native Kafka sources), tasks.go (partition tasks), init.go (readying
// stages and task copies), checkpoint.go (durable checkpoints and
// restore), queues.go (queued elements in checkpoints), changelog.go
// (task changelogs), values.go (batches of values), shuffle.go
// (shuffle and segment writers),
// internaltopics.go (their topics and client),
// teststream.go and metrics.go. stagepar.go holds the per-stage bounds
// and the order of outputs, inline.go the bundles run on the loop,
// workers.go the goroutines that run the others.
package engine
