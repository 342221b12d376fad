package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

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
// sample events, spanning three minutes of event time and three
// projects, collected per project and one-minute window, each window
// one Parquet object in a local directory (the file driver). Read back
// with the Event type, there is one object per project and minute of
// the sample, named by them, holding exactly that project's events of
// that minute, in time order; the events without a project or a time
// are on the dead-letter topic.
func TestParquetArchive(t *testing.T) {
	dir := t.TempDir()
	child := childtest.Start(t, dir)
	if !child.Wait(2 * time.Minute) {
		t.Fatalf("the pipeline did not stop by itself:\n%s", child.Stderr())
	}
	if code := child.ExitCode(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, child.Stderr())
	}
	out := child.Stdout()
	for _, dead := range []string{
		`events-dlq: {"time": "2026-05-04T12:01:12Z", "user": "nobody", "action": "orphan"} [streams.dlq.step=parse] [streams.dlq.error=step parse: invalid message: event without a project]`,
		`events-dlq: {"project": "api", "user": "grace", "action": "retry", "duration_ms": 7} [streams.dlq.step=parse] [streams.dlq.error=step parse: invalid message: event without a time]`,
	} {
		if !strings.Contains(out, dead) {
			t.Errorf("standard output %q; want %s", out, dead)
		}
	}
	if strings.Contains(child.Stderr(), "HELD IN STATE") {
		t.Errorf("results reported held in state, though every window was written:\n%s", child.Stderr())
	}

	got := map[string][]Event{} // "project/2006-01-02/15-04" -> rows
	for key, data := range objects(t, "file://"+dir) {
		rows, err := parquet.Read[Event](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		t.Logf("%s: %d rows", key, len(rows))
		m := objectName.FindStringSubmatch(key)
		if m == nil {
			t.Errorf("object name %s; want archive/<project>/<date>/<hour>-<minute>-<16 hex digits>.parquet", key)
			continue
		}
		if _, dup := got[m[1]]; dup {
			t.Errorf("object %s: a second file for %s", key, m[1])
		}
		got[m[1]] = rows
	}
	want := sampleWindows(t)
	if len(got) != len(want) {
		t.Errorf("%d objects, for %v; want %d, one per project and minute: %v", len(got), slices.Sorted(maps.Keys(got)), len(want), slices.Sorted(maps.Keys(want)))
	}
	for w, rows := range want {
		if !slices.Equal(got[w], rows) {
			t.Errorf("%s: rows read back\n%v\nwant that project's events of that minute, in time order:\n%v", w, got[w], rows)
		}
	}
}

// objectName is the example's object name, ObjectName, filled:
// project/date/hour-minute.
var objectName = regexp.MustCompile(`^archive/([a-z]+/\d{4}-\d{2}-\d{2}/\d{2}-\d{2})-[0-9a-f]{16}\.parquet$`)

// sampleWindows are the valid events of the sample input, by project
// and minute as the object names give them, each window's in time order.
func sampleWindows(t *testing.T) map[string][]Event {
	t.Helper()
	f, err := os.Open("sample_events.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	windows := map[string][]Event{}
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if e, err := parse(sc.Bytes()); err == nil {
			w := e.Project + "/" + e.Time.Format("2006-01-02/15-04")
			windows[w] = append(windows[w], e)
			n++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, es := range windows {
		slices.SortStableFunc(es, func(a, b Event) int { return a.Time.Compare(b.Time) })
	}
	// Three projects over three minutes, 9 events in 7 windows: the test
	// is about grouping, so the sample must group.
	if n != 9 || len(windows) != 7 {
		t.Fatalf("%d valid sample events in %d windows; the test expects 9 in 7", n, len(windows))
	}
	return windows
}

// objects reads every object of bucket: key -> content.
func objects(t *testing.T, bucket string) map[string][]byte {
	t.Helper()
	out, err := blob.Objects(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
