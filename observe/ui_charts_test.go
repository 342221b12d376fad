package observe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streams-dev/streams/internal/browsertest"
)

// charts are the charts of the page (charts.js) and the series each draws
// for the test pipeline fed by feed.
var charts = map[string][]string{
	"throughput": {"in", "out"},
	"errors":     {"errors", "dlq"},
	"lag":        {"lag"},
	"watermark":  {"watermark_lag"},
	"latency":    {"parse", "serialize-errors", "project"},
}

// TestUICharts loads the page of a running pipeline whose history is
// sampled every 250ms, and checks that the charts draw every series and
// move as samples come, with units on their axes; that the graph names
// the deployment's topics in full and draws the dead-letter topic; and
// that the Errors tile never says less than the DLQ count, when a step
// dead-letters messages without counting errors (as late messages are).
func TestUICharts(t *testing.T) {
	b := browsertest.New(t, browsertest.Viewport(1600, 1200))
	p := New("test", "local", testGraph(t))
	p.SetTopics(Topics{Steps: map[string]string{"events-in": "prod.events.v2", "errors-out": "prod.errors.v2"}, DLQ: "prod.events.dlq"})
	p.Health.Started()
	p.Health.Broker(nil)
	// The page asks only for what is new: the highest since it sent.
	h := p.Handler("/metrics")
	var maxSince atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/history" {
			if v, err := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64); err == nil && v > maxSince.Load() {
				maxSince.Store(v)
			}
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { feed(ctx, p) })
	wg.Go(func() { p.RecordHistory(ctx, 250*time.Millisecond) })
	wg.Go(func() {
		for ctx.Err() == nil {
			p.DeadLettered("route", 3) // dead-lettered, not counted as errors
			time.Sleep(100 * time.Millisecond)
		}
	})
	defer wg.Wait()
	defer stop()

	b.Load(srv.URL + "/")

	// Every chart draws every series with a few points.
	const pointsOf = `(c, s) => +(document.querySelector('figure[data-chart="' + c + '"] path[data-series="' + s + '"]')?.dataset.points ?? 0)`
	cond := []string{}
	for c, series := range charts {
		for _, s := range series {
			cond = append(cond, `(`+pointsOf+`)("`+c+`", "`+s+`") >= 3`)
		}
	}
	b.WaitUntil(strings.Join(cond, " && "), `Array.from(document.querySelectorAll("figure[data-chart] path"), p => p.closest("figure").dataset.chart + "/" + p.dataset.series + ": " + p.dataset.points).join(", ")`, 20*time.Second)

	// They move: more points, another line.
	type line struct {
		Points int    `json:"points"`
		D      string `json:"d"`
	}
	read := func() line {
		return browsertest.Eval[line](b, `(() => { const p = document.querySelector('figure[data-chart="throughput"] path[data-series="in"]'); return {points: +p.dataset.points, d: p.getAttribute("d")}; })()`)
	}
	before := read()
	if strings.Count(before.D, "L")+1 != before.Points {
		t.Errorf("the in line has %d points and the path %q", before.Points, before.D)
	}
	b.WaitUntil(`+document.querySelector('figure[data-chart="throughput"] path[data-series="in"]').dataset.points >= `+strconv.Itoa(before.Points+4),
		`document.querySelector('figure[data-chart="throughput"]').dataset.samples`, 10*time.Second)
	after := read()
	if after.D == before.D {
		t.Error("the throughput chart did not change")
	}
	// The page appends what is new, without repeating a point: it has no
	// more than the server, and no fewer than the server had before.
	if maxSince.Load() == 0 {
		t.Error("the page never asked for the history since a time")
	}
	if n := len(p.History(time.Time{}).Time); after.Points > n || after.Points < before.Points+4 {
		t.Errorf("the page charts %d points; the server has %d", after.Points, n)
	}

	// The last values and the axes, with their units.
	last := func(c, s string) string {
		got, _ := b.Text(`figure[data-chart="` + c + `"] .entry[data-series="` + s + `"] [data-field="last"]`)
		return got
	}
	if in := last("throughput", "in"); !strings.HasSuffix(in, "/s") || in == "0/s" {
		t.Errorf("throughput in shows %q, want a rate", in)
	}
	if lag := last("lag", "lag"); lag == "–" || lag == "0" {
		t.Errorf("lag shows %q", lag)
	}
	if wm := last("watermark", "watermark_lag"); !strings.HasSuffix(wm, " s") {
		t.Errorf("watermark lag shows %q, want seconds", wm)
	}
	if lat := last("latency", "parse"); !strings.HasSuffix(lat, "µs") {
		t.Errorf("parse latency shows %q, want microseconds", lat)
	}
	for c, unit := range map[string]string{"throughput": "/s", "errors": "/s", "watermark": " s", "latency": "s"} {
		ticks := b.Texts(`figure[data-chart="` + c + `"] .axes text.tick`)
		if len(ticks) < 4 || !strings.HasSuffix(ticks[2], unit) || ticks[len(ticks)-1] != "now" {
			t.Errorf("%s axis labels %q, want values in %q and \"now\"", c, ticks, unit)
		}
	}

	// Hovering shows the values at a time.
	browsertest.Eval[bool](b, `(() => { const s = document.querySelector('figure[data-chart="throughput"] svg'); const r = s.getBoundingClientRect();
		s.dispatchEvent(new MouseEvent("mousemove", {clientX: r.left + r.width / 2, clientY: r.top + r.height / 2})); return true; })()`)
	if !browsertest.Eval[bool](b, `document.querySelector('figure[data-chart="throughput"]').classList.contains("hovering") &&
		document.querySelector('figure[data-chart="throughput"] .cursor').getAttribute("visibility") === "visible"`) {
		t.Error("hovering the throughput chart shows no cursor")
	}

	// The deployment's topics, in full, and the dead-letter topic.
	for step, topic := range map[string]string{"events-in": "prod.events.v2", "errors-out": "prod.errors.v2"} {
		if got, _ := b.Text(`g[data-step="` + step + `"] [data-field="topic"]`); got != topic {
			t.Errorf("%s's topic shows %q, want %q", step, got, topic)
		}
	}
	if got, _ := b.Text(`g[data-dlq] [data-field="topic"]`); got != "prod.events.dlq" {
		t.Errorf("the DLQ node's topic shows %q", got)
	}
	b.WaitUntil(`!document.querySelector('g[data-dlq-edge="parse"]').hasAttribute("hidden") && !document.querySelector('g[data-dlq-edge="route"]').hasAttribute("hidden")`,
		`Array.from(document.querySelectorAll("g[data-dlq-edge]:not([hidden])"), g => g.dataset.dlqEdge).join(",")`, 5*time.Second)
	if !browsertest.Eval[bool](b, `document.querySelector('g[data-dlq-edge="project"]').hasAttribute("hidden")`) {
		t.Error("an edge to the DLQ from project, which dead-lettered nothing")
	}

	// The Errors tile's count is at least the DLQ's, which grows faster
	// than the errors counted by the steps.
	counts := func() (errs, dlq float64) {
		v := browsertest.Eval[[]string](b, `[document.querySelector('[data-field="total-errors-count"]').textContent, document.querySelector('[data-field="total-dlq"]').textContent]`)
		parse := func(s string) float64 {
			f, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
			if err != nil {
				t.Fatalf("count %q: %v", s, err)
			}
			return f
		}
		return parse(v[0]), parse(v[1])
	}
	for range 3 {
		errs, dlq := counts()
		if dlq == 0 || errs < dlq {
			t.Errorf("errors since start %v, DLQ %v: want errors ≥ DLQ > 0", errs, dlq)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if r := stepRateField(t, b, `[data-field="total-errors"]`); r <= 0 {
		t.Errorf("errors tile %v/s while messages are dead-lettered", r)
	}
	b.Screenshot("ui-charts.png")
	if ex := b.Exceptions(); len(ex) > 0 {
		t.Errorf("the page threw:\n%s", strings.Join(ex, "\n"))
	}
}

// TestChartsMerge hands the charts (charts.js) made-up answers of
// api/history and checks how they are put together: an interval already
// held is not added twice, a step timed for the first time joins with the
// points it has, and what is older than the window goes.
func TestChartsMerge(t *testing.T) {
	b := browsertest.New(t)
	srv := httptest.NewServer(New("test", "local", testGraph(t)).Handler(""))
	defer srv.Close()
	b.Load(srv.URL + "/")
	b.WaitUntil(`+document.body.dataset.snapshots >= 1`, `document.body.dataset.snapshots`, 10*time.Second)

	type result struct {
		In, Parse, Project, Since, After, Latency int
		Lines                                     []string
	}
	got := browsertest.Eval[result](b, `(() => {
		const C = window.streamsCharts;
		const h = (time, latency) => ({window_seconds: 900, interval_seconds: 1, time, latency,
			in: time.map((t) => t / 1000), out: time.map(() => 1), errors: time.map(() => 0), dlq: time.map(() => 0),
			lag: time.map(() => null), watermark_lag: time.map(() => 2)});
		const points = (c, s) => { const p = document.querySelector('figure[data-chart="' + c + '"] path[data-series="' + s + '"]'); return p ? +p.dataset.points : -1; };
		C.update(h([1000, 2000, 3000], {parse: [1e-6, 2e-6, 3e-6]}));
		C.update(h([2000, 3000, 4000, 5000], {project: [null, null, 1e-6, 2e-6]}));
		const r = {In: points("throughput", "in"), Parse: points("latency", "parse"), Project: points("latency", "project"), Since: C.since(),
			Lines: [document.querySelector('figure[data-chart="throughput"] path[data-series="in"]').getAttribute("d")]};
		C.update(h([905000], {}));
		r.After = points("throughput", "in");
		r.Latency = document.querySelectorAll('figure[data-chart="latency"] path').length;
		return r;
	})()`)
	if got.In != 5 || got.Parse != 3 || got.Project != 2 || got.Since != 5000 {
		t.Errorf("after two answers that overlap: in %d points (want 5), parse %d (want 3), project %d (want 2), since %d (want 5000); %q",
			got.In, got.Parse, got.Project, got.Since, got.Lines)
	}
	if got.After != 1 || got.Latency != 0 {
		t.Errorf("after an answer 15 minutes later: in %d points (want 1), %d latency lines (want 0)", got.After, got.Latency)
	}
}
