// Package kafka is a native Apache Beam Go I/O for Kafka: an unbounded
// [Read] and a [Write], built on franz-go. Beam Go has only a
// cross-language Kafka I/O, which needs a Java expansion service; this one
// is plain Go and runs on any portable runner that supports splittable
// DoFns with self-checkpointing.
//
// Both take a [ClientConfig]: seed brokers plus librdkafka-style properties
// (security.protocol, sasl.*, ssl.*, client.id, ...; see [Properties]).
// The config is plain data, because it travels inside the DoFns, which the
// pipeline carries JSON-serialised to the workers.
//
// # Reading
//
//	recs := kafka.Read(s, kafka.ReadConfig{
//		Client:      kafka.ClientConfig{Brokers: []string{"localhost:9092"}},
//		Topics:      []string{"events"},
//		Group:       "my-pipeline",
//		StartOffset: kafka.StartEarliest,
//	})
//
// returns an unbounded PCollection of [Record]: topic, partition, offset,
// key, value, headers and timestamp of each record, with the record's
// Kafka timestamp as its event time.
//
// Under the hood, an Impulse feeds a DoFn that lists the partitions of the
// topics and where each starts (the group's committed offset, else the
// log start or end per [ReadConfig.StartOffset]), and a splittable DoFn
// reads one partition per element. Its restriction is the offset range
// [start, ∞), tracked by a growable tracker whose end estimate is the
// partition's high-water mark, so runners see the backlog. Each call reads
// for at most [ReadConfig.MaxReadTime], or until the partition runs dry,
// then checkpoints itself (sdf.ResumeProcessingIn) so the runner holds the
// position and the rest of the partition as a residual. Partitions are the
// unit of parallelism: the read refuses runner-initiated splits of a
// partition, which would read it out of order. Each DoFn instance keeps a
// franz-go client per partition it reads, across bundles.
//
// The partitions are listed once, when the pipeline starts; partitions or
// topics added later need a restart. The read never joins the consumer
// group as a member: the runner, not a group rebalance, decides who reads
// what. The group only stores offsets.
//
// # Writing
//
//	kafka.Write(s, kafka.WriteConfig{Client: client, Topic: "out"}, recs)
//
// produces each [Record] to its Topic, or to [WriteConfig.Topic] when it
// has none, with its key, value, headers and timestamp; the producer's
// partitioner picks the partition from the key. The producer is franz-go's
// default: idempotent, acks=all, batched. A bundle finishes only when all
// its records are acknowledged, and fails if any failed or if they are not
// acknowledged within [DefaultDeliveryTimeout] (or message.timeout.ms), so
// that the runner retries it.
//
// # Delivery semantics
//
// Reading and writing are at least once.
//
// The read's position is the runner's: the residual restriction of each
// checkpoint starts at the next offset to read, and a runner persists it
// with the bundle's outputs. A restarted job resumes from wherever the
// runner's own recovery (Flink checkpoints, Dataflow's state) puts it.
//
// The read also commits offsets to [ReadConfig.Group], for monitoring
// (consumer lag) and for a new job to start where an old one stopped. It
// commits the start of each restriction it processes: the start of a
// residual, which a runner hands back only after committing the bundle
// that produced it, outputs included, so every record before that offset
// has been processed (how durably depends on the runner: prism keeps
// everything in memory); or, the first time, where the read starts, which
// pins a "latest" start. The commit thus trails reading by one call of the
// reading DoFn (MaxReadTime at most, plus IdleDelay), and is sent in the
// background, batched, at most once a second per DoFn instance. A new job
// started from the group re-reads at most the records of the last calls.
//
// Cancelling a job would leave the last calls' offsets uncommitted.
// [Drain], where the job's DoFns run in the calling process (prism in
// process, or the LOOPBACK environment), stops the reads and waits until
// everything read is committed; the runner package drains before it
// cancels such a job.
//
// Bundle finalization (beam.BundleFinalization) would be the textbook hook
// for those commits, but in Beam Go v2.77 it is broken beyond a plan's
// first bundle (exec.Plan.Finalize replaces the finalizer its DoFns hold),
// and Flink does not support it at all; committing on resume needs nothing
// from the runner.
//
// A retried write bundle may produce records twice; consumers that need
// exactly once must deduplicate (by key, or by the source topic, partition
// and offset carried in headers by the pipeline), or run on the bundled
// runner with exactly-once delivery:
//
// # Exactly once (bundled runner)
//
// [ReadConfig.ExactlyOnce] with [WriteConfig.Transactional] on every
// write makes the bundled runner's source a transactional member of its
// group (Kafka's EOS v2): the writes produce through its producer
// ([WithProducer]), and the outputs, the changelog records of the
// partition tasks' state and the consumer offsets commit in one
// transaction per commit interval. Readers with isolation.level
// read_committed see each input's outputs exactly once. On any other
// runner the read fails with [ErrNoExactlyOnce]: Beam runners commit no
// Kafka transactions.
//
// # Watermarks
//
// Each partition has its own watermark: the newest record timestamp seen
// minus [ReadConfig.MaxSkew]. A record whose timestamp is more than
// MaxSkew older than the newest one before it in its partition may be late
// for event-time windows. A partition is idle when it is read up to its
// high-water mark and nothing new came within [ReadConfig.IdleDelay].
//
// On the bundled runner an idle partition keeps its time (so records
// produced into it later with older timestamps, but not older than what it
// already passed, are on time) and stops holding back the watermark of
// what reads several partitions; its own windows wait for its next
// records. With [ReadConfig.IdleWallClock] its watermark follows the
// current time minus MaxSkew instead, so that windows close without
// traffic, and a record produced later with an older timestamp is late.
// Through the splittable DoFn (prism, Flink, Dataflow), which has no
// idleness, an idle partition always follows the wall clock.
//
// # Runners
//
//   - prism, Beam Go's local runner: supported and tested here, with one
//     limit for event time: prism keeps a single output watermark per
//     splittable DoFn, the estimate reported by the last bundle, rather
//     than the minimum over all partitions. With several partitions, one
//     that is idle or ahead in event time can carry the watermark past
//     records another partition has yet to emit, and event-time windows
//     downstream then drop those records as late. Processing-time and
//     global-window pipelines are not affected; neither are runners that
//     track a watermark per restriction (Dataflow, Flink).
//   - Flink (portable): supported. Flink never asks an SDF to checkpoint
//     (Beam issue #20979); the read checkpoints itself every MaxReadTime.
//   - Dataflow: supported; its drain uses the read's TruncateRestriction,
//     which stops each partition where it stands.
//   - The deprecated direct runner and Spark do not support
//     self-checkpointing splittable DoFns.
//
// Beam Go's harness (v2.77) never calls a DoFn's Teardown; the read and
// write close their clients when the DoFn instance is garbage collected.
//
// # Registration
//
// Like every Beam Go I/O, the package registers its DoFns, types and the
// [Record] coder in an init function, as Beam requires before beam.Init.
// Record has its own coder because Beam's schema coder cannot carry a
// time.Time and cannot tell a nil byte slice from an empty one.
package kafka
