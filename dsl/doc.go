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
//   - FlatMap: one message in, any number out.
//   - Parser, Serializer: JSON to a typed payload and back; the parser can
//     validate against a JSON Schema (WithJSONSchema).
//   - Route: each message to exactly one branch, chosen by a function.
//   - Broadcast: each message to every branch.
//   - Sink with StreamSink (a Kafka topic) or DevNullSink.
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
// branch without a sink, a branch of the wrong type, ...). Nothing in this
// package panics on a mistake, except MustBuild, which says so.
//
// This package knows nothing of Beam, Kafka or storage: runners and
// translators (beamtranslate, localrunner) execute a Graph through
// Node.Process and Node.Route.
package dsl
