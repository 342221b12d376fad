// Command batching is Sentry Streams' batching example: raw records are
// batched, each batch is parsed at once by a BatchParser, and the batch
// of metrics is serialized as one JSON array. The deployment config,
// not the code, says how the stream decodes: its schema is
// examples/batching/schemas/ingest-metrics.json, found by the stream's
// name in the source's schema_dir. A record that is not JSON, or breaks
// the schema, goes to the dead-letter topic on its own, with its cause;
// the rest of its batch goes on.
//
//	ingest-metrics ─ batch ─ parse ─ serialize ─> parsed-metrics
//
//	go run ./examples/batching -n batching \
//		--config deployment_config/batching.yaml --adapter local \
//		--dev-input examples/batching/sample_events.txt --dev-print-output --dev-exit-when-done
package main

import (
	"time"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/runner"
)

// IngestMetric is one message of the ingest-metrics stream.
type IngestMetric struct {
	Type  string            `json:"type"`
	Name  string            `json:"name"`
	Value float64           `json:"value"`
	Tags  map[string]string `json:"tags,omitempty"`
}

var pipeline = dsl.StreamingSource("myinput", "ingest-metrics").
	Apply("batch", dsl.Batch[[]byte](3, 2*time.Second)).
	Apply("parse", dsl.BatchParser[IngestMetric]()).
	Apply("serialize", dsl.Serializer[[]IngestMetric]()).
	Sink("myoutput", dsl.StreamSink("parsed-metrics"))

func main() { runner.Main(pipeline) }
