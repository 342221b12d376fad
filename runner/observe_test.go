package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/devbroker"
	"github.com/streams-dev/streams/internal/browsertest"
	"github.com/streams-dev/streams/internal/childtest"
)

// observeSpec is the child's part of TestObservability.
type observeSpec struct {
	Adapter    string
	Broker     string
	HealthFile string
}

const observeChildPrefix = "observe:"

// runObserveChild runs the seed pipeline with Prometheus metrics and
// write_healthcheck until it is killed, printing the metrics server's
// address as "HTTP <addr>".
func runObserveChild(spec string) int {
	var s observeSpec
	if err := json.Unmarshal([]byte(strings.TrimPrefix(spec, observeChildPrefix)), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	yaml := fmt.Sprintf(`metrics: {type: prometheus, address: "127.0.0.1:0"}
pipeline:
  adapter_config: {arroyo: {write_healthcheck: true}}
  segments:
    - steps_config:
        myinput:
          bootstrap_servers: [%q]
          auto_offset_reset: earliest
          commit_interval_ms: 100
          dlq: {topic: events-dlq}
        myoutput: {topic: observed-output}
`, s.Broker)
	cfg, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	err = Run(ctx, seedPipeline().MustBuild(), Options{
		Name: "observed", Config: cfg, Adapter: s.Adapter,
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})),
		HealthcheckFile: s.HealthFile,
		OnHTTP:          func(addr string) { fmt.Printf("HTTP %s\n", addr) },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

// TestObservability runs the seed pipeline with metrics: {type:
// prometheus} while events flow, and checks what an operator sees:
// /metrics counting every step, the DLQ, the sink's deliveries and the
// source's lag and offsets; /healthz and /readyz passing, and readiness
// failing with a reason once the broker is gone; the health file touched.
func TestObservability(t *testing.T) {
	for _, adapter := range []string{AdapterLocal, AdapterBeam} {
		t.Run(adapter, func(t *testing.T) {
			t.Parallel()
			testObservability(t, adapter)
		})
	}
}

func testObservability(t *testing.T, adapter string) {
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Topics("events", "observed-output", "events-dlq"))
	if err != nil {
		t.Fatal(err)
	}
	brokerUp := true
	defer func() {
		if brokerUp {
			_ = b.Close()
		}
	}()
	healthFile := filepath.Join(t.TempDir(), "health.txt")
	spec, _ := json.Marshal(observeSpec{Adapter: adapter, Broker: b.Addr(), HealthFile: healthFile})
	child := childtest.Start(t, observeChildPrefix+string(spec))
	defer child.Stop(t)

	var base string
	waitFor(t, child, time.Minute, "the metrics server's address", func() bool {
		if m := regexp.MustCompile(`HTTP (\S+)`).FindStringSubmatch(child.Stdout()); m != nil {
			base = "http://" + m[1]
			return true
		}
		return false
	})

	produce := func(n int, bad int) {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("events"))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var recs []*kgo.Record
		for i := range n {
			typ := "event"
			if i%2 == 1 {
				typ = "other"
			}
			recs = append(recs, &kgo.Record{Value: fmt.Appendf(nil, `{"type":%q,"n":%d}`, typ, i)})
		}
		for range bad {
			recs = append(recs, &kgo.Record{Value: []byte("not json")})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// 100 events (50 pass the filter) and 5 bad messages.
	produce(100, 5)
	want := map[string]float64{
		`streams_step_messages_in_total{pipeline="observed",step="myinput"}`:                       105,
		`streams_step_messages_in_total{pipeline="observed",step="mymap"}`:                         105,
		`streams_step_messages_out_total{pipeline="observed",step="mymap"}`:                        100,
		`streams_step_errors_total{pipeline="observed",step="mymap"}`:                              5,
		`streams_step_dlq_messages_total{pipeline="observed",step="mymap"}`:                        5,
		`streams_step_messages_in_total{pipeline="observed",step="myfilter"}`:                      100,
		`streams_step_messages_out_total{pipeline="observed",step="myfilter"}`:                     50,
		`streams_step_messages_in_total{pipeline="observed",step="myoutput"}`:                      50,
		`streams_sink_produced_total{pipeline="observed",step="myoutput",topic="observed-output"}`: 50,
	}
	if adapter == AdapterLocal {
		// The bundled runner's native source reports partitions and
		// commits; on Beam runners those are the runner's business.
		want[`sum:streams_source_committed_offset`] = 105
		want[`sum:streams_source_lag_records`] = 0
		want[`streams_source_assigned_partitions{group="pipeline-myinput",pipeline="observed"}`] = float64(devbroker.DefaultPartitions)
	}
	var m map[string]float64
	waitForDetail(t, child, time.Minute, "the metrics of 105 messages", func() (bool, string) {
		m = scrape(t, base+"/metrics")
		return matches(m, want)
	})
	if n := m[`streams_step_processing_seconds_count{pipeline="observed",step="mymap"}`]; n < 1 {
		t.Errorf("no sampled processing time for mymap (count %v)", n)
	}
	if n := m[`streams_sink_produce_latency_seconds_count{pipeline="observed",step="myoutput",topic="observed-output"}`]; n != 50 {
		t.Errorf("produce latency observed %v times, want 50", n)
	}
	if m[`streams_pipeline_up{pipeline="observed"}`] != 1 {
		t.Errorf("streams_pipeline_up is not 1")
	}
	if adapter == AdapterLocal {
		if m[`sum:streams_bundle_elements_count`] < 1 || m[`sum:streams_commit_duration_seconds_count`] < 1 {
			t.Errorf("no bundle or commit metrics: %v bundles, %v commits", m[`sum:streams_bundle_elements_count`], m[`sum:streams_commit_duration_seconds_count`])
		}
	}

	// The figures move while events flow.
	produce(10, 0)
	want[`streams_step_messages_in_total{pipeline="observed",step="mymap"}`] = 115
	want[`streams_step_messages_out_total{pipeline="observed",step="myfilter"}`] = 55
	delete(want, `streams_step_messages_in_total{pipeline="observed",step="myinput"}`)
	delete(want, `streams_step_messages_out_total{pipeline="observed",step="mymap"}`)
	delete(want, `streams_step_messages_in_total{pipeline="observed",step="myfilter"}`)
	delete(want, `streams_step_messages_in_total{pipeline="observed",step="myoutput"}`)
	delete(want, `streams_sink_produced_total{pipeline="observed",step="myoutput",topic="observed-output"}`)
	if adapter == AdapterLocal {
		want[`sum:streams_source_committed_offset`] = 115
	}
	waitForDetail(t, child, time.Minute, "the metrics of 10 more messages", func() (bool, string) {
		return matches(scrape(t, base+"/metrics"), want)
	})

	for _, path := range []string{"/healthz", "/readyz"} {
		waitFor(t, child, 30*time.Second, path+" passing", func() bool {
			code, body := get(t, base+path)
			return code == 200 && body == "ok\n"
		})
	}
	// The file is touched about once a second while the pipeline is
	// alive: within a second of the probes passing.
	var fi os.FileInfo
	waitFor(t, child, 5*time.Second, "the health file", func() bool {
		var err error
		fi, err = os.Stat(healthFile)
		return err == nil
	})
	if age := time.Since(fi.ModTime()); age > 5*time.Second {
		t.Errorf("health file last touched %v ago", age)
	}

	if adapter == AdapterLocal {
		checkPage(t, base, func() { produce(20, 1) })
	}

	// The broker goes away: not ready, and the reason says why. On
	// prism the Kafka read's bundle fails, and prism fails the job (it
	// does not retry bundles): the process may exit, saying so, before a
	// probe sees it not ready.
	brokerUp = false
	_ = b.Close()
	notReady := func() bool {
		code, body := get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "Kafka broker unreachable")
	}
	if adapter != AdapterLocal {
		deadline := time.Now().Add(30 * time.Second)
		for !notReady() {
			if child.Exited() {
				if child.ExitCode() == 0 || !strings.Contains(child.Stderr(), "kafka: read") {
					t.Fatalf("the pipeline exited (code %d) without a Kafka read error:\n%s", child.ExitCode(), tail(child.Stderr(), 4000))
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz not failing within 30s; pipeline log:\n%s", tail(child.Stderr(), 4000))
			}
			time.Sleep(200 * time.Millisecond)
		}
		return
	}
	waitFor(t, child, 30*time.Second, "/readyz failing", notReady)
}

// waitFor polls cond until it holds, failing the test after timeout or if
// the child exits.
func waitFor(t *testing.T, child *childtest.Child, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	waitForDetail(t, child, timeout, what, func() (bool, string) { return cond(), "" })
}

// waitForDetail is waitFor with a condition that says what it saw.
func waitForDetail(t *testing.T, child *childtest.Child, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if child.Exited() {
			t.Fatalf("waiting for %s: the pipeline exited (code %d):\n%s", what, child.ExitCode(), child.Stderr())
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v (%s); pipeline log:\n%s", what, timeout, saw, tail(child.Stderr(), 4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// scrape reads a Prometheus text exposition into series -> value, and adds
// "sum:<name>" for each metric name, the sum over its series.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	code, body := get(t, url)
	out := map[string]float64{}
	if code != 200 {
		return out
	}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		series := line[:i]
		out[series] = v
		name, _, _ := strings.Cut(series, "{")
		out["sum:"+name] += v
	}
	return out
}

// matches says whether got has every series of want with its value, and
// lists those it has not.
func matches(got, want map[string]float64) (bool, string) {
	var diffs []string
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", k, g, v))
		}
	}
	sort.Strings(diffs)
	return len(diffs) == 0, strings.Join(diffs, "; ")
}

// checkPage loads the pipeline's page in headless Chromium while events
// flow (produce is called every 100ms) and checks that every step of the
// seed pipeline is drawn with a rate, that the source's rate is above
// zero, that the process shows as healthy and ready, that the configured
// topics and the dead-letter topic are drawn, that the Errors tile counts
// no less than the DLQ, and that the charts draw and move. The
// screenshot is kept as a test artifact (pipeline.png).
func checkPage(t *testing.T, base string, produce func()) {
	t.Helper()
	b := browsertest.New(t, browsertest.Viewport(1600, 900))
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			produce()
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}()
	defer func() { stop(); <-done }()

	b.Load(base + "/")
	steps := []string{"myinput", "mymap", "myfilter", "serializer", "myoutput"}
	b.WaitStepRates(steps, 30*time.Second)
	b.WaitUntil(`parseFloat(document.querySelector('g[data-step="mymap"] [data-field="rate-in"]').textContent) > 0 &&
		document.querySelector('[data-field="health"]').textContent === "OK" &&
		document.querySelector('[data-field="ready"]').textContent === "OK"`,
		`document.querySelector('g[data-step="mymap"] [data-field="rate-in"]').textContent + " / " + document.querySelector("header").innerText`, 30*time.Second)
	if got := browsertest.Eval[int](b, `document.querySelectorAll("g[data-step]").length`); got != len(steps) {
		t.Errorf("%d steps drawn, want %d", got, len(steps))
	}
	rates := b.Texts(`g[data-step] [data-field="rate-in"]`)
	t.Logf("in-rates on the page: %v", rates)

	// The deployment's topics, the dead-letter topic drawn with an edge
	// from the step that dead-lettered, and an Errors tile that says no
	// less than the DLQ.
	for step, topic := range map[string]string{"myinput": "events", "myoutput": "observed-output"} {
		if got, _ := b.Text(`g[data-step="` + step + `"] [data-field="topic"]`); got != topic {
			t.Errorf("%s's topic on the page: %q, want %q", step, got, topic)
		}
	}
	if got, _ := b.Text(`g[data-dlq] [data-field="topic"]`); got != "events-dlq" {
		t.Errorf("the DLQ node's topic: %q, want events-dlq", got)
	}
	b.WaitUntil(`!document.querySelector('g[data-dlq-edge="mymap"]').hasAttribute("hidden")`, `document.querySelector('[data-field="total-dlq"]').textContent`, 10*time.Second)
	b.WaitUntil(`(() => { const n = (f) => +document.querySelector('[data-field="' + f + '"]').textContent.replaceAll(",", "");
		return n("total-dlq") > 0 && n("total-errors-count") >= n("total-dlq"); })()`,
		`document.querySelector('[data-field="total-errors-count"]').textContent + " errors, DLQ " + document.querySelector('[data-field="total-dlq"]').textContent`, 10*time.Second)

	// The charts draw (history is sampled every second), and move.
	const inPoints = `+(document.querySelector('figure[data-chart="throughput"] path[data-series="in"]')?.dataset.points ?? 0)`
	b.WaitUntil(inPoints+` >= 2 && +document.querySelector('figure[data-chart="lag"] path[data-series="lag"]').dataset.points >= 2`,
		`document.querySelector('figure[data-chart="throughput"]').dataset.samples`, 30*time.Second)
	n := browsertest.Eval[int](b, inPoints)
	b.WaitUntil(inPoints+` >= `+strconv.Itoa(n+2), `document.querySelector('figure[data-chart="throughput"]').dataset.samples`, 30*time.Second)
	if got, _ := b.Text(`figure[data-chart="throughput"] .entry[data-series="in"] [data-field="last"]`); !strings.HasSuffix(got, "/s") {
		t.Errorf("throughput in shows %q, want a rate", got)
	}
	b.Screenshot("pipeline.png")
	if ex := b.Exceptions(); len(ex) > 0 {
		t.Errorf("the page threw:\n%s", strings.Join(ex, "\n"))
	}
}
