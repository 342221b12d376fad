// Command parquet_archive archives events to an object store as Parquet
// files, one file per project and minute: it reads JSON events from the
// "events" stream, collects each project's events of a one-minute
// tumbling window of event time (the event's own "time"), and writes
// each window's events as one Parquet file, a row per event with the
// columns of the Event struct, through the blob sink. A window's file
// is written once the watermark passes its end (with
// --dev-exit-when-done, once the input is read). The code names a GCS
// bucket; the deployment config points the sink at a local directory
// through the file driver (file://$PARQUET_ARCHIVE_DIR), which `make
// run-parquet` makes. An event that is not JSON, or has no project or
// no time, goes to the dead-letter topic, with the cause.
//
//	events ─ parse ─ minute ─ rows ─ parquet ─> archive (bucket)
//
//	PARQUET_ARCHIVE_DIR=$(mktemp -d) go run ./examples/parquet_archive -n parquet_archive \
//		--config deployment_config/parquet_archive.yaml --adapter local \
//		--dev-input examples/parquet_archive/sample_events.txt --dev-print-output --dev-exit-when-done
//	go run ./examples/parquet_archive/read "file://$PARQUET_ARCHIVE_DIR"
package main

import (
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/runner"
)

// Event is one message of the events stream, and one row of the Parquet
// files: the parquet tags name the columns.
type Event struct {
	// Time is when the event happened, which decides its window.
	Time       time.Time `json:"time" parquet:"time,timestamp(millisecond)"`
	Project    string    `json:"project" parquet:"project"`
	User       string    `json:"user" parquet:"user"`
	Action     string    `json:"action" parquet:"action"`
	DurationMs int64     `json:"duration_ms" parquet:"duration_ms"`
}

// parse decodes a JSON event; one without a project or a time is
// rejected (to the dead-letter queue, with the cause). Its time is
// kept to the millisecond, as the Parquet column holds it.
func parse(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, err
	}
	if e.Project == "" {
		return Event{}, errors.New("event without a project")
	}
	if e.Time.IsZero() {
		return Event{}, errors.New("event without a time")
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	return e, nil
}

func project(e Event) string { return e.Project }

// rows are a window's events in time order: a Parquet file's rows.
func rows(w dsl.Windowed[string, []Event]) ([]Event, error) {
	slices.SortStableFunc(w.Value, func(a, b Event) int { return a.Time.Compare(b.Time) })
	return w.Value, nil
}

// ObjectName names each file by the sink's step, the project (the
// window's key) and the window's day, hour and minute (a window's result
// is timestamped at its last instant), with {random}: a window's result
// has no source position to name it by, and a name must not collide.
const ObjectName = "{step}/{key}/{date}/{hour}-{minute}-{random}.parquet"

var pipeline = dsl.StreamingSource("events", "events").
	Apply("parse", dsl.Map(parse)).
	Apply("minute", dsl.Reduce(dsl.TumblingWindow(time.Minute), project, dsl.Collect[Event](),
		dsl.WithEventTime(func(e Event) time.Time { return e.Time }))).
	Apply("rows", dsl.Map(rows)).
	Apply("parquet", dsl.ParquetSerializer[Event]()).
	Sink("archive", dsl.BlobSink("events-archive", dsl.BlobObjectName(ObjectName)))

func main() { runner.Main(pipeline) }
