package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/internal/childtest"
	"github.com/streams-dev/streams/observe"
)

const sentryChildPrefix = "sentry-stop:"

// sentryDSN starts a Sentry DSN endpoint, a real HTTP server, and returns
// its DSN and the envelopes posted to it so far.
func sentryDSN(t *testing.T) (string, func() []string) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "http://", "http://public@", 1) + "/1", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), bodies...)
	}
}

// sentry_sdk_config reports step errors, at most step_errors_per_minute,
// with their tags, and flushes them when the run ends.
func TestSentryReportsStepErrors(t *testing.T) {
	dsn, got := sentryDSN(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf("sentry_sdk_config: {dsn: %q, environment: staging, release: r7, sample_rate: 1, step_errors_per_minute: 2}\npipeline: {segments: [{}]}\n", dsn)), nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Name: "sn", Config: cfg}.withDefaults()
	obs, err := startObservation(context.Background(), seedPipeline().MustBuild(), opts, &deployment{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if observe.Lookup(opts.PipelineID) == nil {
		t.Error("metrics type dummy with Sentry: the steps do not find the pipeline, so report nothing")
	}
	for i := range 5 {
		obs.p.Rejected(observe.Rejection{Step: "mymap", Topic: "events", Partition: 2, Offset: int64(10 + i), Error: "invalid character"})
	}
	obs.close()
	bodies := got()
	if len(bodies) != 2 {
		t.Fatalf("%d events, want 2 (the limit):\n%s", len(bodies), strings.Join(bodies, "\n"))
	}
	for _, w := range []string{`"type":"StepError"`, `"step":"mymap"`, `"topic":"events"`, `"partition":"2"`, `"offset":"10"`,
		`"pipeline":"sn"`, `"environment":"staging"`, `"release":"r7"`} {
		if !strings.Contains(bodies[0], w) {
			t.Errorf("first event lacks %s:\n%s", w, bodies[0])
		}
	}
}

// A pipeline that stops on an invalid message reports its failure, with
// the message's step, topic, partition and offset, before it exits.
func TestSentryReportsPipelineFailure(t *testing.T) {
	dsn, got := sentryDSN(t)
	child := childtest.Start(t, sentryChildPrefix+dsn)
	if !child.Wait(2 * time.Minute) {
		t.Fatal("the pipeline did not stop on the invalid message")
	}
	if code := child.ExitCode(); code != 1 {
		t.Fatalf("exit code %d, want 1:\n%s", code, child.Stderr())
	}
	bodies := got()
	if len(bodies) != 1 {
		t.Fatalf("%d events, want 1:\n%s", len(bodies), strings.Join(bodies, "\n"))
	}
	// The dev input goes to any partition: the tags must say the one
	// the failure text names.
	m := regexp.MustCompile(`rejected the message at events/(\d+) offset (\d+)`).FindStringSubmatch(bodies[0])
	if m == nil {
		t.Fatalf("event lacks the failure text:\n%s", bodies[0])
	}
	for _, w := range []string{`"type":"PipelineFailure"`, `"step":"mymap"`, `"pipeline":"streams"`,
		`"topic":"events"`, `"partition":"` + m[1] + `"`, `"offset":"` + m[2] + `"`} {
		if !strings.Contains(bodies[0], w) {
			t.Errorf("event lacks %s:\n%s", w, bodies[0])
		}
	}
}

// runSentryChild runs the seed pipeline on an invalid message, without a
// dlq, reporting to the Sentry DSN dsn.
func runSentryChild(dsn string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg, err := config.Parse([]byte(fmt.Sprintf("sentry_sdk_config: {dsn: %q}\npipeline:\n  segments:\n    - steps_config:\n        myinput: {auto_offset_reset: earliest}\n", dsn)), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	err = Run(ctx, seedPipeline().MustBuild(), Options{
		Config: cfg, Adapter: AdapterLocal, DevBrokerAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Dev:    &DevOptions{Input: [][]byte{[]byte(`{"type":"event"}`), []byte(`not json`)}},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}
