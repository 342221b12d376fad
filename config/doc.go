// Package config loads deployment configs: the YAML file that says where a
// pipeline's steps read and write and how much of each runs. The step code
// says what happens to a message; the deployment config supplies brokers,
// topics, consumer groups, batch sizes, parallelism and dead-letter queues.
// The shape is that of Sentry Streams, so its files load unchanged.
//
// A runner loads the file, then validates it against the pipeline it is
// about to run, and prints one error listing every problem:
//
//	cfg, err := config.Load(path)
//	if cfg != nil {
//		// Validate repeats Load's problems next to the pipeline's own.
//		err = cfg.Validate(segmentID, steps)
//	}
//	if err != nil {
//		return err // one *config.Error, one problem per line
//	}
//	seg, _ := cfg.Segment(segmentID)
//	src := seg.Step("myinput", config.Source) // defaults applied
//
// # Errors
//
// Every problem carries the file, line and column of the offending key or
// value and its path in the document, and is printed as
//
//	deploy.yaml:14:30: pipeline.segments[0].steps_config.myinput.bootstrap_servers: must be a list of strings or a comma-separated string; got integer 5
//
// Loading goes on past a problem to find the others: YAML syntax errors
// stop it (there is no document to read), nothing else does. Keys that are
// not documented below are problems, with the accepted keys listed and the
// closest one suggested. Problems are returned as an [*Error] holding
// [Problem] values; errors.Is(err, [ErrEnvVarNotSet]) reports a missing
// environment variable.
//
// [Load] reads only a regular file of at most [MaxFileSize] (1 MiB): a
// device (--config /dev/zero), a named pipe, a directory or a larger file
// is refused at once with [ErrNotRegularFile] or [ErrFileTooLarge], before
// anything is read.
//
// # Environment variables
//
// A string value may refer to environment variables as ${envvar:NAME},
// alone ("${envvar:KAFKA_PASSWORD}", as in Sentry Streams) or inside a
// longer string ("${envvar:HOST}:9092", an extension). Substitution runs
// on the YAML tree before values are typed, in every string value of the
// document, including the free-form sections, but never in keys. A
// substituted value is read as the type its key needs, so
// parallelism: "${envvar:WORKERS}" is an integer when WORKERS=4. The
// substituted text is not scanned again. An unset variable is a problem
// at the value's position. NAME is letters, digits and underscores, not
// starting with a digit; there is no escape for a literal "${envvar:".
//
// YAML anchors, aliases and merge keys (<<: *defaults) may be used to
// share settings between steps.
//
// # Top level
//
//	env:       # free-form mapping, kept in Config.Env; no effect (warned
//	           # about when not empty)
//	metrics:   # optional, see Metrics
//	sentry_sdk_config:  # optional, see Sentry
//	pipeline:  # required, see Pipeline
//
// # Sentry
//
// sentry_sdk_config reports errors to Sentry, as Sentry Streams'
// runner does (it reads dsn; the other keys are ours):
//
//	sentry_sdk_config:
//	  dsn: https://key@o1.ingest.sentry.io/2   # required
//	  environment: production   # optional, the events' environment
//	  release: v1.2.3           # optional, the events' release
//	  sample_rate: 0.5          # 0 to 1, default 1: fraction of step errors reported
//	  step_errors_per_minute: 10  # integer >= 0, default 10: at most this many a minute
//
// A pipeline's failure is always reported; step errors (messages sent to
// the dead-letter topic) are sampled, then limited per minute. Events carry
// the tags pipeline, step, topic, partition and offset.
//
// # Metrics
//
// metrics.type chooses the backend; each type accepts only its own keys.
//
//	type: dummy          # default: metrics are discarded
//
//	type: log            # metrics written to the log
//	period_sec: 5        # number >= 0.1; how often to write; default 10
//	tags: {k: v}         # added to every metric
//
//	type: datadog        # DogStatsD over UDP: the Prometheus metrics, sent
//	                     # every flush_interval_ms (see observe.Datadog)
//	host: localhost      # required
//	port: 8125           # required, 1 to 65535
//	tags: {k: v}         # added to every metric
//	udp_queue_size: 1000 # integer >= 0; packets the sender queues before
//	                     # dropping; 0 or absent: 100000
//	flush_interval_ms: 10000  # number >= 1; how often to send; default 10000
//
//	type: prometheus     # an HTTP handler to scrape (not in Sentry Streams)
//	address: ":9090"     # host:port to listen on; default ":9090", every
//	                     # interface, since Prometheus scrapes from another host
//	path: /metrics       # default /metrics
//	web_config_file: web.yml  # a Prometheus web config file (TLS, basic
//	                     # auth), exporter-toolkit's format; default none
//
// Tag values may be any scalar and are kept as written.
//
// # Pipeline
//
//	pipeline:
//	  adapter_config:    # optional, per runner
//	    arroyo:
//	      write_healthcheck: true   # touch a health file while the main loop turns
//	    local: {}        # the bundled runner; takes no keys yet
//	    beam: {}         # external Beam runners; takes no keys yet
//	  segments:          # required, at least one
//	    - parallelism: 1 # legacy, integer >= 1; kept for old Sentry configs,
//	                     # no effect (warned about)
//	      steps_config:  # per step, keyed by step name
//	        <step name>: {...}
//
// A process runs one segment, chosen by the runner's --segment-id. The
// keys of steps_config are the names given to steps in the pipeline code;
// [Config.Validate] reports a name the pipeline does not have. A step
// with no entry gets the defaults.
//
// Segments are the pipeline's separately deployable parts (segments.go):
// segment 0 starts at the source; a later entry starts at the one step of
// its steps_config that sets starts_segment: true, and holds the steps
// from it to the next segment's. On the bundled runner what flows into
// that step goes through an internal topic, <group>-<step>-segment, which
// the segment's processes read as a consumer group of that name; run N
// processes with --segment-id k to spread segment k over N (at most
// internal_topic_partitions). A step is configured in the entry of the
// segment that holds it (the runner checks), and every process reads
// every entry: a segment's process needs the source's settings and binds
// every step. With --adapter beam the pipeline runs whole: a later
// --segment-id is refused.
//
// # Step keys
//
// Which keys a step takes depends on its kind ([StepKind.Keys]); a key
// given to a step that does not take it is a problem. Every kind takes:
//
//	starts_segment: true  # in a later segment's entry: the step starts
//	                      # that segment (see above); in the first
//	                      # segment's, Sentry Streams' chain boundary, no
//	                      # effect here (warned about)
//
// A source (a Kafka topic read by a consumer group) takes:
//
//	bootstrap_servers: ["host:9092", ...]  # or "host:9092,host2:9092"; the port
//	                                       # defaults to 9092; when absent the
//	                                       # runner starts an embedded
//	                                       # development broker
//	topic: events              # replaces the topic named in the code
//	consumer_group: mygroup    # default pipeline-<step name>
//	auto_offset_reset: latest  # earliest | latest (default) | error: where a
//	                           # group with no committed offset starts
//	strict_offset_reset: false # true: a committed offset outside the
//	                           # partition's log (its records deleted, or
//	                           # the topic recreated), or a position that
//	                           # falls off the log while reading, stops the
//	                           # pipeline with an error naming the partition
//	                           # (kafka.ErrOffsetOutOfRange) instead of
//	                           # being reset; false: auto_offset_reset
//	                           # applies to it too. As Arroyo's strict
//	                           # offset reset; on every runner
//	processing_guarantee: at_least_once # or exactly_once: the outputs to
//	                           # Kafka sinks and the DLQ, and the offsets,
//	                           # commit in one Kafka transaction per
//	                           # commit_interval_ms; readers that set
//	                           # isolation.level=read_committed see each
//	                           # output exactly once. Bundled runner only,
//	                           # stateless pipelines only for now, sinks on
//	                           # the source's cluster; transaction.timeout.ms
//	                           # (override_params, default 10000) must
//	                           # exceed commit_interval_ms
//	override_params: {...}     # client properties, see below
//	dlq: {...}                 # dead-letter queue, see below
//	parallelism: 4             # see Parallelism; on the bundled runner it
//	                           # also bounds every bundle in flight
//	commit_interval_ms: 1000   # bundled runner: commit processed offsets at
//	commit_records: 10000      # least this often / after this many records
//	                           # (at_least_once only: exactly_once ends a
//	                           # transaction on the interval alone)
//	watermark_max_skew_ms: 1000 # the event-time watermark trails the newest
//	                           # record timestamp of each partition by this
//	                           # much: records later than that may be late
//	                           # for their window; lower means windows close
//	                           # sooner after their end
//	watermark_idle_ms: 100     # a partition read to its end and without
//	                           # records for this long is idle: it stops
//	                           # holding back the watermark of steps that
//	                           # read several partitions, and keeps its
//	                           # own time (its windows wait for its next
//	                           # records)
//	changelog_replication_factor: 3 # bundled runner: replication of the
//	                           # changelog topics of state, and of the
//	                           # internal topics (default: the broker's)
//	internal_topic_partitions: 12 # bundled runner: partitions of the
//	                           # internal topics of shuffles (a Reduce
//	                           # keyed otherwise than the partitioning)
//	                           # and of later segments, created at start
//	                           # (default: as many as the source topic);
//	                           # at most that many processes share that
//	                           # work. An existing topic with another
//	                           # count is an error
//	watermark_idle_wall_clock: false # true: an idle partition's watermark
//	                           # follows the wall clock minus the skew, so
//	                           # windows close without traffic; records
//	                           # produced later with older timestamps are
//	                           # then late
//	codec: msgpack             # json | msgpack | protobuf: how the stream's
//	                           # payloads are written; the pipeline's Parser
//	                           # and BatchParser steps decode with it (one
//	                           # whose code sets another codec is a problem;
//	                           # a pipeline without one refuses the key)
//	schema_dir: schemas        # the stream's JSON Schema is <stream>.json
//	                           # in this directory (the stream the code
//	                           # names, not a topic override), as
//	                           # sentry-kafka-schemas keys schemas by the
//	                           # logical stream; compiled at start, every
//	                           # Parser and BatchParser validates payloads
//	                           # against it (json and msgpack codecs). A
//	                           # missing or invalid file is a problem
//
// Sinks are components (see package component): a Kafka sink (kind
// sink: a topic written by a producer), a devnull sink (kind
// devnull_sink: discards messages, and can simulate batched writes for
// benchmarks) and a blob sink (kind blob_sink: objects in GCS, S3 or
// local files, Sentry's gcs_sink keys). Their keys, with types,
// examples and docs, are their specs' (component.Spec.Document prints
// them; the specs are beamtranslate.Kafka, beamtranslate.DevNull and
// beamtranslate.Blob), and config takes them when given the specs with
// [WithComponents], as the runner does. A Kafka sink's keys are keys
// the source takes too (bootstrap_servers, topic, override_params,
// codec): they are decoded and checked as the source's. In short, a
// Kafka sink without bootstrap_servers, or with the source's, writes to
// the source's cluster with the source's override_params, its own
// replacing them key by key; its topic must differ from the source
// topic, and must exist when the pipeline starts (on the development
// broker the runner creates it); its codec is the codec of the
// Serializer that feeds it, which must not contradict the Serializer's
// code.
//
// A batch step (dsl.Batch) takes the two bounds of its batches, which
// replace those given in the pipeline code (a key left out keeps the
// code's):
//
//	batch_size: 2                # integer >= 1: emit a batch at this many messages
//	batch_timedelta: {seconds: 20}  # > 0: or when its oldest message has waited
//	                             # this long; keyword arguments of Python's
//	                             # timedelta (weeks, days, hours, minutes,
//	                             # seconds, milliseconds, microseconds;
//	                             # numbers, summed), or a Go duration "20s"
//
// Map, filter, flat map, parser and serializer steps take parallelism and
// on_invalid; a router takes on_invalid; reduce steps take parallelism
// and on_late; broadcast and branch steps take only starts_segment.
//
//	on_invalid: stop   # stop (default) | skip: what happens to a message
//	                   # this step rejects (its function returned an error
//	                   # or panicked) when the source has no dlq. stop fails
//	                   # the pipeline, naming the step, the message's
//	                   # position and the cause, and commits nothing past
//	                   # it; skip logs and counts it and goes on. With a dlq
//	                   # the message always goes to the dlq.
//
//	on_late: dlq       # dlq | drop: what a reduce step does with a message
//	                   # that arrives after its window closed (the watermark
//	                   # passed the window's end): dlq sends it to the
//	                   # source's dlq with the cause (the default when the
//	                   # source has a dlq; needs one), drop counts it and
//	                   # drops it (the default without). On the bundled
//	                   # runner only: other Beam runners drop late data.
//
// # Parallelism
//
// parallelism is how many copies of a step run at once. It is an integer
// >= 1 or Sentry Streams' form
//
//	parallelism:
//	  multi_process:
//	    processes: 4       # required, integer >= 1: the parallelism
//	    batch_size: 1000   # integer >= 1
//	    batch_time: 0.2    # seconds, >= 0
//	    input_block_size: 65536       # these four: integers >= 1
//	    output_block_size: 65536
//	    max_input_block_size: 1048576
//	    max_output_block_size: 1048576
//
// of which only processes has an effect here: Go needs no worker
// processes, so the other keys are accepted for compatibility, kept in
// [StepConfig].MultiProcess ([MultiProcess.Ignored]), and have no effect;
// the runner warns about them at start. The multi_process form is for
// map-like steps (map, filter, flat map, parser, serializer). No step
// needs starts_segment for its parallelism.
//
// On the bundled runner (--adapter local) a step runs in a stage, the
// chain of steps fused with it, as bundles of messages. parallelism: N
// lets the stage run N bundles at once (across the partitions the process
// reads) and spreads a backlog over them; steps fused into one stage
// share it, with the largest of their parallelisms. Messages go from one
// stage to the next in the order they came, whatever the parallelism, so
// a Batch per partition gets its partition's messages in order; but a
// stage that ends in a sink produces from its copies as they run, so with
// parallelism above 1 there, records of one source partition may reach
// the sink's topic out of their order. A Reduce's windows are kept by the
// runner itself: its parallelism applies to the stages that key its
// messages and emit its results. The source's parallelism bounds every
// bundle in flight (default: the number of CPUs, at least 2), and is
// raised to the sum of the other steps' parallelism when lower; a step
// without parallelism runs as many bundles as that bound allows.
//
// With --adapter beam the Beam runner decides how many copies of a step
// run (Flink's --parallelism, Dataflow's workers): parallelism has no
// effect there, and the runner warns at start.
//
// # Client properties
//
// override_params (on sources, sinks and dead-letter queues) holds
// librdkafka-style Kafka client properties, as in librdkafka, kcat and
// Sentry Streams:
//
//	override_params:
//	  security.protocol: SASL_SSL
//	  sasl.mechanism: SCRAM-SHA-512
//	  sasl.username: "${envvar:KAFKA_USER}"
//	  sasl.password: "${envvar:KAFKA_PASSWORD}"
//	  max.poll.interval.ms: 300000
//
// Values may be any scalar and are kept as written. Each key and value is
// checked by the Kafka client package (clientconf.CheckProperty in
// github.com/streams-dev/streams/io/kafka, whose Properties lists the
// accepted keys); an unknown key is a problem, never silently ignored.
//
// # Dead-letter queue
//
// A source's dlq entry sends the messages that fail to a Kafka topic:
//
//	dlq:
//	  topic: custom-dlq-topic        # default: the one named in the code;
//	                                 # must differ from the source topic
//	  bootstrap_servers: [...]       # default: the source's
//	  override_params: {...}         # client properties for the DLQ producer
//
// An empty dlq: entry enables the queue with all three defaults. Sentry
// Streams requires dlq.bootstrap_servers; here it is optional. Like a
// sink's, the DLQ producer starts from the source's override_params on
// the source's cluster, its own winning key by key, and its limit is the
// topic's max.message.bytes unless message.max.bytes overrides it. A
// dead-letter record (the original value and headers, plus ours) too
// large for its topic is truncated to fit, with headers
// streams.dlq.truncated (what was cut: "value", or "value,key,headers")
// and streams.dlq.original_size (the value's size in bytes).
//
// # Keys without effect
//
// No key is accepted and ignored silently. A key kept so that Sentry
// Streams configs load unchanged but without effect here is named in a
// warning when the runner starts, once: a non-empty env, a segment's
// parallelism, starts_segment: true in the first segment, the
// multi_process keys other than
// processes. With --adapter beam, so are the keys only the bundled runner
// reads: parallelism, commit_interval_ms, commit_records,
// changelog_replication_factor, internal_topic_partitions and on_late:
// dlq. [Keys] lists every key
// the package accepts; a runner's test holds each to a test of its
// effect or of its warning.
//
// # Defaults
//
// [Parse] and [Load] apply [Config.EnsureDefaults] (the metrics type and
// backend settings). Step defaults depend on the step's kind and are
// applied by [Segment.Step] or [StepConfig.EnsureDefaults]; which keys the
// file set is kept in StepConfig.Set, so defaults are never mistaken for
// settings.
package config
