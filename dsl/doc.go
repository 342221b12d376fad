// Package dsl defines streaming pipelines: a typed, fluent chain of named
// steps from a Kafka source to sinks.
//
// # Defining a pipeline
//
//	pipeline := dsl.StreamingSource("myinput", "events").
//		Apply("mymap", dsl.Map(parse)).          // Stream[[]byte] -> Stream[Event]
//		Apply("myfilter", dsl.Filter(isEvent)).
//		Apply("serializer", dsl.Serializer[Event]()).
//		Sink("myoutput", dsl.StreamSink("transformed-events"))
//
// Each step has a name, unique in the pipeline: the deployment config,
// metrics and the pipeline picture refer to steps by name. The chain is
// typed: Apply takes a Step[T, U] and turns a Stream[T] into a Stream[U],
// so a Kafka sink, which writes bytes, only accepts a stream of []byte.
//
// # Steps
//
//   - Map, MapMessage: one message in, one out.
//   - Filter, FilterMessage: keep the messages a predicate accepts.
//   - HeadersFilter: keep the messages whose header holds one of some
//     integers, as Sentry Streams' HeadersFilter does; a header that is
//     not an integer rejects its message.
//   - FlatMap: one message in, any number out.
//   - Parser, Serializer: bytes to a typed payload and back, in JSON,
//     msgpack or protobuf (WithCodec); the parser can validate against a
//     JSON Schema (WithJSONSchema). The deployment config may name the
//     source stream's codec and schema instead (Node.WithDecoding).
//   - BatchParser: a batch of payloads to a batch of typed payloads, each
//     invalid payload rejected on its own (ItemsError).
//   - ParquetSerializer: a batch of structs to one Parquet file.
//   - Batch: messages grouped into batches by count and time.
//   - Reduce: messages aggregated per key in event-time or count windows;
//     ReduceAll: all the messages of a window aggregated into one value.
//   - Route: each message to exactly one branch, chosen by a function.
//   - Broadcast: each message to every branch.
//   - Sink with StreamSink (a Kafka topic), BlobSink (objects in GCS, S3
//     or local files) or DevNullSink.
//
// Branches start with Branch[T](name) and end in sinks of their own.
//
// # Messages and metadata
//
// A Message carries a payload and the Kafka key, headers and timestamp
// end to end. Map, Filter and FlatMap see the payload and keep the
// metadata; MapMessage and FilterMessage see the whole message and may
// change it.
//
// # Batches
//
// Batch groups messages into slices, emitting a batch when it holds a
// number of messages or when its oldest message has waited a while (wall
// clock), whichever comes first:
//
//	events.Apply("batch", dsl.Batch[Event](500, 2*time.Second)) // Stream[[]Event]
//
// A batch holds messages of one source partition, or of one message key
// with BatchPerKey. The deployment config's batch_size and
// batch_timedelta for the step, as in Sentry Streams, replace the bounds
// given in the code.
//
// # Windows and aggregation
//
// Reduce aggregates the messages of each key over event-time windows:
//
//	counts := events.Apply("count", dsl.Reduce(
//		dsl.TumblingWindow(time.Minute),          // or SlidingWindow, SessionWindow
//		func(e Event) string { return e.User },   // the key
//		dsl.Count[Event](),                       // or Sum, Min, Max, Collect, your own
//	)) // Stream[dsl.Windowed[string, int]]: Key, Start, End, Value
//
// ReduceAll aggregates all the messages of each window into one value,
// as Sentry Streams' Reducer without a group_by does; the step sets one
// key for every message, so one task aggregates them all:
//
//	totals := events.Apply("total", dsl.ReduceAll(dsl.TumblingWindow(time.Minute),
//		dsl.Count[Event](),
//	)) // Stream[dsl.WindowValue[int]]: Start, End, Value
//
// Event time is the message timestamp (the Kafka record's, unless a
// step set another) or what WithEventTime reads from the payload.
// Tumbling and sliding windows are aligned to the Unix epoch; session
// windows close a gap after a key's last message. A window's result is
// emitted once, when the watermark passes the window's end: the source
// moves the watermark with the record timestamps it reads, and to the
// current time when a partition is idle. Messages behind the watermark
// are late and dropped.
//
// Count windows group a key's messages by number, as Sentry Streams'
// TumblingWindow(window_size=n) does: TumblingCountWindow(n) closes a
// window at every n messages of a key, SlidingCountWindow(n, step) has
// windows of n messages start every step messages. A count window is
// emitted as soon as it is full, whatever the watermark; one not yet full
// waits in durable state for the key's next messages. Its Start and End
// span its messages' event times.
//
// An Accumulator (New, Add, Merge, Result) says how a window's payloads
// become its value. Accumulators are merged (runners add in parallel,
// and session windows merge) and are shipped between processes as JSON.
// The output message of a window is timestamped at the window's end
// minus a millisecond and carries the key as its Kafka key when the key
// is a string or []byte, so it can go straight to a Kafka sink after a
// Serializer.
//
// # Bad messages
//
// A user function that returns an error or panics rejects that one
// message: runners report it as an *InvalidError naming the step and the
// cause, send the original record to the dead-letter queue when one is
// configured, and go on with the next message.
//
// # Building
//
// Pipeline.Build checks the definition and returns an immutable *Graph,
// or a *BuildError listing every problem at once (duplicate names, a
// branch without a sink, a branch of the wrong type, a nil function, a
// window or batch bound that is not positive, ...). Nothing in this
// package panics on a mistake, except MustBuild, which says so.
//
// This package knows nothing of Beam, Kafka or storage: runners and
// translators (beamtranslate, localrunner) execute a Graph through
// Node.Process and Node.Route, and Node.Batcher and Node.Reducer for
// Batch and Reduce steps.
package dsl
