package beamtranslate

import (
	"fmt"
	"maps"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
)

// Kafka is the Kafka sink (dsl.StreamSink): a topic written by a
// producer. Its keys are keys the source step takes too (config decodes
// and checks them as the source's), and codec. Where a step writes is
// resolved by the runner at start ([KafkaBinding]: the topic, the
// cluster it inherits from the source, the feedback-loop check; then
// the topic's existence and its max.message.bytes), into
// [Bindings].Sinks, which Translate reads. The codec key applies to the
// Serializer feeding the sink ([EncoderBindings]).
//
// A Kafka sink fed by a chain of steps has its records made in the
// chain's DoFn (sinkchain.go): that fusion is the one place the
// translation names this component outside Translate.
var Kafka = Sink{
	Spec: component.Spec{
		Kind: "sink", Label: "kafka",
		Doc: `A sink (a Kafka topic written by a producer) takes bootstrap_servers,
topic, override_params and parallelism, as a source does, and codec. A
sink without bootstrap_servers, or with the source's, writes to the
source's cluster with the source's override_params, its own replacing
them key by key; a sink on another cluster uses its own alone. Its topic
must differ from the source topic (a feedback loop), and must exist when
the pipeline starts: the runner checks every sink and dead-letter topic
before reading anything, and reports a missing one naming its step (on
the development broker it creates them, with the broker's partition
count: 4 for ` + "`streams broker`" + ` and the embedded broker). The producer's
limit on a record is the topic's max.message.bytes, read at start,
unless override_params sets message.max.bytes (or batch.size); an
output larger than that is its message's error: it goes to the
dead-letter queue with the cause (or stops the pipeline without one).
A sink's codec is how its stream's payloads are written: the Serializer
that feeds the sink (through steps with one input each) encodes with
it, so the pipeline says dsl.Serializer[T]() and the topic decides. A
codec that contradicts the Serializer's dsl.WithCodec, or one on a sink
no Serializer feeds, stops the start with an error naming the step.`,
		Keys: []component.Key{
			{Name: "bootstrap_servers", Type: component.Strings, Example: `["kafka-1:9092"]`,
				Doc: "seed brokers; default the source's cluster"},
			{Name: "topic", Type: component.String, Example: "transformed-events",
				Doc: "default the stream named in the code; not the source topic"},
			{Name: "override_params", Type: component.StringMap, Example: "{linger.ms: \"5\"}",
				Doc: "librdkafka-style producer properties; on the source's\ncluster they replace the source's key by key"},
			{Name: "codec", Type: component.String, Example: "msgpack",
				Doc: "json | msgpack | protobuf: the feeding Serializer's codec;\ndefault as its code says (JSON)"},
		},
	},
	Kind:      dsl.SinkStream,
	Translate: kafkaSink,
}

// kafkaSink is the Kafka sink's Translate: it makes n's records from
// its input, rejecting a message too large for the topic, and writes
// them.
func kafkaSink(c SinkContext, s beam.Scope, n *dsl.Node, _ component.Values, in beam.PCollection) error {
	sb, ok := c.Bindings.Sinks[n.Name()]
	if !ok {
		return fmt.Errorf("beamtranslate: sink %s has no binding", n.Name())
	}
	recs, bad := beam.ParDo2(s, &toRecordFn{Pipeline: c.Pipeline, Step: n.Name(), Topic: sb.Topic, MaxBytes: sb.MaxRecordBytes}, in)
	c.reject(bad)
	return writeKafka(c, s, n, recs)
}

// writeKafka writes the records recs, made for Kafka sink n, to its
// topic.
func writeKafka(c SinkContext, s beam.Scope, n *dsl.Node, recs beam.PCollection) error {
	sb := c.Bindings.Sinks[n.Name()]
	obs := observerName(c.Pipeline, n.Name())
	kafka.RegisterProduceObserver(obs, newSinkObserver(c.Pipeline, n.Name()))
	wc := kafka.WriteConfig{Client: sb.Client, Topic: sb.Topic, Observer: obs, MaxRecordBytes: sb.MaxRecordBytes,
		Label: "sink step " + n.Name(), Transactional: c.Bindings.Source.ExactlyOnce}
	if err := kafka.TryWrite(s, wc, recs); err != nil {
		return fmt.Errorf("beamtranslate: sink %s: %w", n.Name(), err)
	}
	return nil
}

// KafkaBinding returns where Kafka sink step n writes, given its
// deployment config's values v and the source's binding src: its topic
// (the config's, or the stream its code names) on its cluster, which
// inherits the source's (src.Inherit). A sink that would write to the
// source's topic on the source's cluster is an error naming the step: the
// pipeline would read its own output. MaxRecordBytes is left for the
// runner, which reads the topic's limit at start.
func KafkaBinding(n *dsl.Node, v component.Values, src SourceBinding) (SinkBinding, error) {
	sb := SinkBinding{
		Client: kafka.ClientConfig{Brokers: v.List("bootstrap_servers"), Properties: v.Map("override_params")},
		Topic:  n.StreamName(),
	}
	if t := v.Str("topic"); t != "" {
		sb.Topic = t
	}
	if sb.Topic == src.Topic && src.SameCluster(sb.Client) {
		return SinkBinding{}, fmt.Errorf("sink step %s: topic %q is the source's: the pipeline would read its own output (a feedback loop); give the sink another topic", n.Name(), src.Topic)
	}
	sb.Client = src.Inherit(sb.Client) // a sink without brokers writes to the source's cluster
	return sb, nil
}

// SameCluster reports whether a producer's client config points at the
// source's cluster: it names no brokers (it then uses the source's), or
// the same ones.
func (s SourceBinding) SameCluster(own kafka.ClientConfig) bool {
	return len(own.Brokers) == 0 || slices.Equal(own.Brokers, s.Client.Brokers)
}

// Inherit returns the client config of a sink or a dead-letter queue
// whose own settings are own. On the source's cluster it starts from the
// source's properties (credentials, TLS, client.id...) and own's replace
// them key by key; on another cluster only own's apply.
func (s SourceBinding) Inherit(own kafka.ClientConfig) kafka.ClientConfig {
	if !s.SameCluster(own) {
		return own
	}
	props := maps.Clone(s.Client.Properties)
	if props == nil && own.Properties != nil {
		props = map[string]string{}
	}
	maps.Copy(props, own.Properties)
	return kafka.ClientConfig{Brokers: s.Client.Brokers, Properties: props}
}
