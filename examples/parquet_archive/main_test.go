package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/childtest"
	"github.com/streams-dev/streams/io/blob"
)

// TestMain runs the example's main as make run-parquet does when the test
// binary is started as a child (see package childtest): from the
// repository's root, with the Makefile's flags, the deployment config's
// bucket under the directory of the spec, and a development broker on a
// free port.
func TestMain(m *testing.M) {
	if dir, ok := childtest.Spec(); ok {
		if err := os.Chdir("../.."); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Setenv("PARQUET_ARCHIVE_DIR", dir)
		os.Args = []string{"parquet_archive", "-n", "parquet_archive",
			"--config", "deployment_config/parquet_archive.yaml", "--adapter", "local",
			"--dev-input", "examples/parquet_archive/sample_events.txt",
			"--dev-print-output", "--dev-exit-when-done", "--dev-broker", "127.0.0.1:0"}
		main()
	}
	os.Exit(m.Run())
}

// The demo end to end on the bundled runner and an embedded broker: the
// sample events parsed and batched by the deployment config's bounds (3
// events, or 2 seconds), each batch one Parquet object in a local
// directory (the file driver). Read back with the Event type, the objects
// hold every valid sample event exactly once, stamped with its record's
// time, at most 3 to an object, named by the template from the newest;
// the event without a project is on the dead-letter topic.
func TestParquetArchive(t *testing.T) {
	dir := t.TempDir()
	start := time.Now().Truncate(time.Millisecond)
	child := childtest.Start(t, dir)
	if !child.Wait(2 * time.Minute) {
		t.Fatalf("the pipeline did not stop by itself:\n%s", child.Stderr())
	}
	end := time.Now()
	if code := child.ExitCode(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, child.Stderr())
	}
	if out := child.Stdout(); !strings.Contains(out, `events-dlq: {"user": "nobody", "action": "orphan"} [streams.dlq.step=parse] [streams.dlq.error=step parse: invalid message: event without a project]`) {
		t.Errorf("standard output %q; want the event without a project on the dead-letter topic", out)
	}
	if strings.Contains(child.Stderr(), "HELD IN STATE") {
		t.Errorf("results reported held in state, though every batch was written:\n%s", child.Stderr())
	}

	name := regexp.MustCompile(`^archive/(\d{4}-\d{2}-\d{2})/(\d{8}T\d{6}Z)-[0-9a-f]{16}\.parquet$`)
	var got []Event
	objs := objects(t, "file://"+dir)
	for key, data := range objs {
		rows, err := parquet.Read[Event](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		t.Logf("%s: %d rows", key, len(rows))
		if len(rows) == 0 || len(rows) > 3 {
			t.Errorf("%s: %d rows; want 1 to 3 (batch_size)", key, len(rows))
			continue
		}
		var newest time.Time
		for _, r := range rows {
			if r.Time.Before(start) || r.Time.After(end) {
				t.Errorf("%s: row %+v: time not within the run [%v, %v]", key, r, start, end)
			}
			if r.Time.After(newest) {
				newest = r.Time
			}
			r.Time = time.Time{}
			got = append(got, r)
		}
		newest = newest.UTC()
		if m := name.FindStringSubmatch(key); m == nil || m[1] != newest.Format("2006-01-02") || m[2] != newest.Format("20060102T150405Z") {
			t.Errorf("object name %s; want archive/%s/%s-<16 hex digits>.parquet, from its newest event",
				key, newest.Format("2006-01-02"), newest.Format("20060102T150405Z"))
		}
	}
	want := sampleEvents(t)
	// 7 events in batches of at most 3 of a partition: 3 objects at
	// least, one per event at most.
	if len(objs) < 3 || len(objs) > len(want) {
		t.Errorf("%d objects; want 3 to %d", len(objs), len(want))
	}
	cmp := func(a, b Event) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) }
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(got, want) {
		t.Errorf("rows read back:\n%v\nwant the sample's valid events, once each:\n%v", got, want)
	}
}

// sampleEvents are the valid events of the sample input, without their
// time.
func sampleEvents(t *testing.T) []Event {
	t.Helper()
	f, err := os.Open("sample_events.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, err := parse(dsl.Message[[]byte]{Payload: sc.Bytes()}); err == nil {
			m.Payload.Time = time.Time{}
			events = append(events, m.Payload)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(events) != 7 {
		t.Fatalf("%d valid sample events; the test expects 7", len(events))
	}
	return events
}

// objects reads every object of bucket: key -> content.
func objects(t *testing.T, bucket string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	b, err := blob.Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	out := map[string][]byte{}
	it := b.List(nil)
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if out[o.Key], err = b.ReadAll(ctx, o.Key); err != nil {
			t.Fatal(err)
		}
	}
}
