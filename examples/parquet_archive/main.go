// Command parquet_archive archives events to an object store as Parquet
// files: it reads JSON events from the "events" stream, collects them in
// batches (a batch closes when it holds batch_size events or its oldest
// has waited batch_timedelta), and writes each batch as one Parquet
// file, a row per event with the columns of the Event struct, through
// the blob sink. The code names a GCS bucket; the deployment config
// points the sink at a local directory through the file driver
// (file://$PARQUET_ARCHIVE_DIR), which `make run-parquet` makes. An
// event that is not JSON or has no project goes to the dead-letter
// topic, with the cause.
//
//	events ─ parse ─ batch ─ parquet ─> archive (bucket)
//
//	PARQUET_ARCHIVE_DIR=$(mktemp -d) go run ./examples/parquet_archive -n parquet_archive \
//		--config deployment_config/parquet_archive.yaml --adapter local \
//		--dev-input examples/parquet_archive/sample_events.txt --dev-print-output --dev-exit-when-done
//	go run ./examples/parquet_archive/read "file://$PARQUET_ARCHIVE_DIR"
package main

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/runner"
)

// Event is one message of the events stream, and one row of the Parquet
// files: the parquet tags name the columns.
type Event struct {
	// Time is the event's Kafka record timestamp, set by parse. It has
	// a JSON name although the input does not carry it: between steps a
	// message may travel as JSON, and a field tagged json:"-" would be
	// lost on the way.
	Time       time.Time `json:"time" parquet:"time,timestamp(millisecond)"`
	Project    string    `json:"project" parquet:"project"`
	User       string    `json:"user" parquet:"user"`
	Action     string    `json:"action" parquet:"action"`
	DurationMs int64     `json:"duration_ms" parquet:"duration_ms"`
}

// parse decodes a JSON event and stamps it with its record's timestamp;
// an event without a project is rejected (to the dead-letter queue, with
// the cause).
func parse(m dsl.Message[[]byte]) (dsl.Message[Event], error) {
	var e Event
	if err := json.Unmarshal(m.Payload, &e); err != nil {
		return dsl.Message[Event]{}, err
	}
	if e.Project == "" {
		return dsl.Message[Event]{}, errors.New("event without a project")
	}
	e.Time = m.Timestamp.UTC().Truncate(time.Millisecond)
	return dsl.Message[Event]{Payload: e, Key: m.Key, Headers: m.Headers, Timestamp: m.Timestamp}, nil
}

// ObjectName names each file by the sink's step, the day and the time of
// the batch's newest event, with {random}: a batch has no source
// position to name it by.
const ObjectName = "{step}/{date}/{time}-{random}.parquet"

// The batch bounds are a production archive's: a file per 10,000 events
// or per minute. The deployment config's batch_size and batch_timedelta
// replace them (the demo's config makes files of 3 events or 2 seconds).
var pipeline = dsl.StreamingSource("events", "events").
	Apply("parse", dsl.MapMessage(parse)).
	Apply("batch", dsl.Batch[Event](10000, time.Minute)).
	Apply("parquet", dsl.ParquetSerializer[Event]()).
	Sink("archive", dsl.BlobSink("events-archive", dsl.BlobObjectName(ObjectName)))

func main() { runner.Main(pipeline) }
