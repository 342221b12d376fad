package beamtranslate

import (
	"maps"
	"strings"
	"testing"

	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
)

// The Kafka sink's keys are those config's tests give a sink step
// (config's kafkaSink), each documented with an example.
func TestKafkaSinkSpec(t *testing.T) {
	if got := strings.Join(Kafka.Spec.Names(), ", "); got != "bootstrap_servers, codec, override_params, parallelism, starts_segment, topic" {
		t.Errorf("Names() = %s", got)
	}
	doc := Kafka.Spec.Document()
	for _, k := range Kafka.Spec.Keys {
		if !strings.Contains(doc, "\t"+k.Name+": "+k.Example) {
			t.Errorf("docs lack %s:\n%s", k.Name, doc)
		}
	}
}

// KafkaBinding: the config's topic over the code's; the source's cluster
// and properties inherited, the sink's own winning per key; another
// cluster keeps its own alone; the source's topic on its cluster is a
// feedback loop.
func TestKafkaBinding(t *testing.T) {
	g := dsl.StreamingSource("in", "events").Sink("out", dsl.StreamSink("out-stream")).MustBuild()
	n := g.Node("out")
	src := SourceBinding{Topic: "events", Client: kafka.ClientConfig{Brokers: []string{"k1:9092"}, Properties: map[string]string{"client.id": "src", "acks": "all"}}}
	sb, err := KafkaBinding(n, component.Values{"override_params": component.StringMapValue(map[string]string{"acks": "1"})}, src)
	if err != nil || sb.Topic != "out-stream" || sb.Client.Brokers[0] != "k1:9092" ||
		!maps.Equal(sb.Client.Properties, map[string]string{"client.id": "src", "acks": "1"}) {
		t.Errorf("same cluster: %+v, %v", sb, err)
	}
	sb, err = KafkaBinding(n, component.Values{"topic": component.StringValue("events"),
		"bootstrap_servers": component.StringsValue([]string{"k2:9092"})}, src)
	if err != nil || sb.Topic != "events" || sb.Client.Brokers[0] != "k2:9092" || sb.Client.Properties != nil {
		t.Errorf("another cluster: %+v, %v", sb, err)
	}
	_, err = KafkaBinding(n, component.Values{"topic": component.StringValue("events")}, src)
	if err == nil || err.Error() != `sink step out: topic "events" is the source's: the pipeline would read its own output (a feedback loop); give the sink another topic` {
		t.Errorf("feedback loop: %v", err)
	}
}
