package observe

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// get fetches path from h and returns the status, content type and body.
func get(t *testing.T, h http.Handler, path string) (int, string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Code, rec.Header().Get("Content-Type"), string(body)
}

func TestHealthzAndReadyz(t *testing.T) {
	p := New("test", "local", testGraph(t))
	h := p.Handler("/metrics")
	check := func(path string, wantCode int, wantBody ...string) {
		t.Helper()
		code, _, body := get(t, h, path)
		if code != wantCode {
			t.Errorf("%s: status %d, want %d (body %q)", path, code, wantCode, body)
		}
		for _, w := range wantBody {
			if !strings.Contains(body, w) {
				t.Errorf("%s: body %q lacks %q", path, body, w)
			}
		}
	}

	check("/healthz", http.StatusServiceUnavailable, "pipeline not running")
	check("/readyz", http.StatusServiceUnavailable, "pipeline not running", "Kafka broker not checked yet")

	p.Health.Started()
	check("/healthz", http.StatusOK, "ok\n")
	check("/readyz", http.StatusServiceUnavailable, "Kafka broker not checked yet")

	p.Health.Broker(nil)
	p.Health.SourceTurned("g", 0, 3)
	check("/readyz", http.StatusOK, "ok\n")

	p.Health.SourceTurned("g", 0, 0)
	check("/readyz", http.StatusServiceUnavailable, "no partitions assigned to this process")
	// Partitions of an internal topic (a shuffle's group) count too.
	p.Health.SourceTurned("g-count-shuffle", 0, 2)
	check("/readyz", http.StatusOK, "ok\n")
	p.Health.SourceTurned("g-count-shuffle", 0, 0)
	p.Health.SourceTurned("g", 0, 3)

	p.Health.Broker(errors.New("dial tcp: connection refused"))
	check("/healthz", http.StatusOK, "ok\n")
	check("/readyz", http.StatusServiceUnavailable, "Kafka broker unreachable: dial tcp: connection refused")

	p.Health.Broker(nil)
	p.Health.Stopping()
	check("/readyz", http.StatusServiceUnavailable, "shutting down")

	p.Health.Failed("step parse, message events/3 offset 42")
	check("/healthz", http.StatusServiceUnavailable, "pipeline failed at step parse, message events/3 offset 42; the cause is in the log")
	check("/readyz", http.StatusServiceUnavailable, "pipeline failed at step parse", "shutting down")
}

func TestAPIPipeline(t *testing.T) {
	h := New("test", "local", testGraph(t)).Handler("")
	code, ctype, body := get(t, h, "/api/pipeline")
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("status %d, content type %q", code, ctype)
	}
	var gi GraphInfo
	if err := json.Unmarshal([]byte(body), &gi); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	want := GraphInfo{Pipeline: "test", Adapter: "local", Steps: []StepInfo{
		{Name: "events-in", Kind: "source", Topic: "events", Inputs: []string{}, Outputs: []string{"parse"}},
		{Name: "parse", Kind: "parser", Inputs: []string{"events-in"}, Outputs: []string{"route"}},
		{Name: "route", Kind: "router", Inputs: []string{"parse"}, Outputs: []string{"errors", "others"}},
		{Name: "errors", Kind: "branch", Inputs: []string{"route"}, Outputs: []string{"serialize-errors"}},
		{Name: "serialize-errors", Kind: "serializer", Inputs: []string{"errors"}, Outputs: []string{"errors-out"}},
		{Name: "errors-out", Kind: "sink", Topic: "errors", Inputs: []string{"serialize-errors"}, Outputs: []string{}},
		{Name: "others", Kind: "branch", Inputs: []string{"route"}, Outputs: []string{"project"}},
		{Name: "project", Kind: "map", Inputs: []string{"others"}, Outputs: []string{"discard"}},
		{Name: "discard", Kind: "devnull", Inputs: []string{"project"}, Outputs: []string{}},
	}}
	if !reflect.DeepEqual(gi, want) {
		t.Errorf("api/pipeline\n got %+v\nwant %+v", gi, want)
	}
	// Empty lists are [] and not null: the page iterates them.
	if !strings.Contains(body, `"inputs":[]`) || !strings.Contains(body, `"outputs":[]`) || strings.Contains(body, ":null") {
		t.Errorf("api/pipeline has null lists: %s", body)
	}
	if strings.Contains(body, `"dlq"`) {
		t.Errorf("api/pipeline names a DLQ without one: %s", body)
	}
}

// TestAPIPipelineTopics checks that the deployment's topics replace the
// stream names of the code, and that the DLQ topic is named.
func TestAPIPipelineTopics(t *testing.T) {
	p := New("test", "local", testGraph(t))
	p.SetTopics(Topics{Steps: map[string]string{"events-in": "prod-events", "errors-out": "prod-errors"}, DLQ: "prod-events-dlq"})
	_, _, body := get(t, p.Handler(""), "/api/pipeline")
	var gi GraphInfo
	if err := json.Unmarshal([]byte(body), &gi); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	topics := map[string]string{}
	for _, s := range gi.Steps {
		topics[s.Name] = s.Topic
	}
	if topics["events-in"] != "prod-events" || topics["errors-out"] != "prod-errors" || topics["discard"] != "" || gi.DLQ != "prod-events-dlq" {
		t.Errorf("topics %v, DLQ %q", topics, gi.DLQ)
	}
}

func TestAPIStats(t *testing.T) {
	p := New("test", "local", testGraph(t))
	h := p.Handler("/metrics")
	p.Step("parse").Add(10, 8, 2)
	p.Step("parse").Observe(40 * time.Microsecond)
	p.Step("parse").Observe(60 * time.Microsecond)
	p.DeadLettered("parse", 2)
	now := time.Now()
	p.Source(SourceState{Group: "g", Partitions: []PartitionState{
		{Topic: "events", Partition: 1, HighWatermark: 100, Committed: 90, Start: 0, Watermark: now.Add(-3 * time.Second)},
		{Topic: "events", Partition: 0, HighWatermark: 50, Committed: -1, Start: 45},
	}}, now)

	code, ctype, body := get(t, h, "/api/stats")
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("status %d, content type %q", code, ctype)
	}
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if len(st.Steps) != len(testSteps) {
		t.Errorf("%d steps, want %d: %v", len(st.Steps), len(testSteps), st.Steps)
	}
	ps := st.Steps["parse"]
	if ps.In != 10 || ps.Out != 8 || ps.Errors != 2 || ps.DLQ != 2 || ps.Skipped != 0 {
		t.Errorf("parse: %+v", ps)
	}
	if ps.MeanSeconds < 49e-6 || ps.MeanSeconds > 51e-6 {
		t.Errorf("parse mean %g s, want 50µs", ps.MeanSeconds)
	}
	if len(st.Partitions) != 2 || st.Partitions[0].Partition != 0 || st.Partitions[1].Partition != 1 {
		t.Fatalf("partitions not sorted: %+v", st.Partitions)
	}
	if p0, p1 := st.Partitions[0], st.Partitions[1]; p0.Lag != 5 || p1.Lag != 10 || p1.Committed != 90 ||
		p1.WatermarkLagSeconds < 2.9 || p1.WatermarkLagSeconds > 4 || p0.Group != "g" || p0.Topic != "events" {
		t.Errorf("partitions: %+v", st.Partitions)
	}
	if st.Healthy || st.Ready || len(st.Reasons) == 0 {
		t.Errorf("not started, yet healthy %v ready %v reasons %q", st.Healthy, st.Ready, st.Reasons)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	p := New("test", "local", testGraph(t))
	h := p.Handler("/metrics")
	p.Step("route").Add(7, 7, 0)
	code, _, body := get(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	// Every step has its series from the start, at zero.
	for _, s := range testSteps {
		for _, m := range []string{MetricStepIn, MetricStepOut, MetricStepErrors, MetricStepDLQ, MetricStepSkipped} {
			if want := m + `{pipeline="test",step="` + s + `"}`; !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	}
	if want := MetricStepIn + `{pipeline="test",step="route"} 7` + "\n"; !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %q", want)
	}
	if code, _, _ := get(t, p.Handler("/other"), "/other"); code != http.StatusOK {
		t.Errorf("metrics under /other: status %d", code)
	}

	// Checkpoints of the durable state: two written, one failed.
	p.Checkpointed(time.Second, 2*time.Millisecond, 3*time.Millisecond, 4096, 1<<20, nil)
	p.Checkpointed(1500*time.Millisecond, time.Millisecond, time.Millisecond, 100, 1<<21, nil)
	p.Checkpointed(0, 0, 0, 0, 0, errors.New("disk full"))
	_, _, body = get(t, h, "/metrics")
	for _, want := range []string{
		MetricStateSeconds + `_count{pipeline="test"} 2`,
		MetricStateWait + `_sum{pipeline="test"} 0.003`,
		MetricStateInterval + `_sum{pipeline="test"} 2.5`,
		MetricStateBytes + `_sum{pipeline="test"} 4196`,
		MetricStateFailed + `{pipeline="test"} 1`,
		MetricStateDisk + `{pipeline="test"} 2.097152e+06`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestUIFilesAreSelfContained serves the page's files and checks that
// nothing in them reaches outside the process: the page must work on a
// machine without internet, with no build step.
func TestUIFilesAreSelfContained(t *testing.T) {
	h := New("test", "local", testGraph(t)).Handler("")
	for path, ctype := range map[string]string{
		"/":          "text/html",
		"/app.js":    "text/javascript",
		"/style.css": "text/css",
	} {
		code, got, _ := get(t, h, path)
		if code != http.StatusOK || !strings.HasPrefix(got, ctype) {
			t.Errorf("GET %s: status %d, content type %q, want %s", path, code, got, ctype)
		}
	}
	_, _, index := get(t, h, "/")
	for _, ref := range []string{`src="app.js"`, `href="style.css"`} {
		if !strings.Contains(index, ref) {
			t.Errorf("index.html lacks %s", ref)
		}
	}

	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(uiFiles, "ui", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(uiFiles, path)
		if err != nil {
			return err
		}
		for _, m := range external.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" { // the SVG namespace, an identifier
				t.Errorf("%s refers to %s: the page must not fetch anything from elsewhere", path, m)
			}
		}
		if strings.Contains(string(b), "@import") {
			t.Errorf("%s uses @import", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAPIHistory(t *testing.T) {
	h := New("test", "local", testGraph(t)).Handler("")
	code, ctype, body := get(t, h, "/api/history?since=0")
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("status %d, content type %q", code, ctype)
	}
	// Before RecordHistory: empty columns, not null, which the page
	// iterates.
	if !strings.Contains(body, `"time":[]`) || !strings.Contains(body, `"latency":{}`) || strings.Contains(body, "null") {
		t.Errorf("api/history before a sample: %s", body)
	}
	if code, _, body := get(t, h, "/api/history?since=yesterday"); code != http.StatusBadRequest {
		t.Errorf("since=yesterday: status %d, %s", code, body)
	}
}
