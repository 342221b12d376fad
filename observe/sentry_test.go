package observe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// sentryEvent is what the tests read of an event.
type sentryEvent struct {
	Message     string                         `json:"message"`
	Environment string                         `json:"environment"`
	Tags        map[string]string              `json:"tags"`
	Exception   []struct{ Type, Value string } `json:"exception"`
}

// sentryServer is a Sentry DSN endpoint: a real HTTP server that keeps
// the events of the envelopes posted to it.
type sentryServer struct {
	*httptest.Server
	mu     sync.Mutex
	events []sentryEvent
}

func newSentryServer(t *testing.T) *sentryServer {
	s := &sentryServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/api/1/envelope/" {
			t.Errorf("posted to %s", r.URL.Path)
		}
		// An envelope: a header line, then item header and payload lines.
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		sc.Scan()
		for sc.Scan() {
			var item struct{ Type string }
			_ = json.Unmarshal(sc.Bytes(), &item)
			if !sc.Scan() {
				break
			}
			if item.Type == "event" {
				var e sentryEvent
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Errorf("event %s: %v", sc.Text(), err)
				}
				s.mu.Lock()
				s.events = append(s.events, e)
				s.mu.Unlock()
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sentryServer) dsn() string {
	return strings.Replace(s.URL, "http://", "http://public@", 1) + "/1"
}

func (s *sentryServer) got() []sentryEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sentryEvent(nil), s.events...)
}

func TestSentryReportsAFailureWithItsMessage(t *testing.T) {
	srv := newSentryServer(t)
	s, err := NewSentry(SentryConfig{DSN: srv.dsn(), Environment: "prod", Pipeline: "pl", SampleRate: 1, PerMinute: 10})
	if err != nil {
		t.Fatal(err)
	}
	s.PipelineFailed(errors.New("runner: pipeline pl failed: step parse rejected"),
		&Rejection{Step: "parse", Topic: "events", Partition: 3, Offset: 42, Error: "bad json", Fatal: true})
	if !s.Flush(5 * time.Second) {
		t.Fatal("not flushed")
	}
	evs := srv.got()
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1: %+v", len(evs), evs)
	}
	e := evs[0]
	want := map[string]string{"pipeline": "pl", "step": "parse", "topic": "events", "partition": "3", "offset": "42"}
	for k, v := range want {
		if e.Tags[k] != v {
			t.Errorf("tag %s = %q, want %q (tags %v)", k, e.Tags[k], v, e.Tags)
		}
	}
	if e.Environment != "prod" || len(e.Exception) != 1 || e.Exception[0].Type != "PipelineFailure" ||
		!strings.Contains(e.Exception[0].Value, "step parse rejected") {
		t.Errorf("event: %+v", e)
	}
}

// TestSentryLimitsStepErrors sends a flood of step errors: the limit
// lets three through a minute, a sample rate of 0 none.
func TestSentryLimitsStepErrors(t *testing.T) {
	srv := newSentryServer(t)
	s, err := NewSentry(SentryConfig{DSN: srv.dsn(), Pipeline: "pl", SampleRate: 1, PerMinute: 3})
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for i := range 20 {
		if s.StepError(Rejection{Step: "parse", Topic: "events", Offset: int64(i), Error: "bad json"}) {
			sent++
		}
	}
	s.Flush(5 * time.Second)
	evs := srv.got()
	if sent != 3 || len(evs) != 3 {
		t.Fatalf("reported %d, received %d; want 3", sent, len(evs))
	}
	for i, e := range evs {
		if e.Exception[0].Type != "StepError" || e.Tags["step"] != "parse" || e.Tags["offset"] == "" {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	// A new minute lets more through.
	if !s.allow(time.Now().Add(time.Minute)) {
		t.Error("the next minute is limited too")
	}

	none, _ := NewSentry(SentryConfig{DSN: srv.dsn(), SampleRate: 0, PerMinute: 100})
	for range 50 {
		if none.StepError(Rejection{Step: "parse"}) {
			t.Fatal("sample rate 0 reported a step error")
		}
	}
}
