package observe

import (
	"context"
	"errors"
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

// sourceRate is the pace at which feed makes the source read: 50
// messages every 100ms.
const sourceRate = 500

// feed plays a running pipeline on p every 100ms until ctx ends: each
// step's counters move at a steady pace (the parser rejects 4% and
// dead-letters them; a quarter of the rest is routed to errors), and the
// source's three partitions advance with some lag.
func feed(ctx context.Context, p *Pipeline) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var high, committed [3]int64
	for i := range high {
		high[i] = int64(1000 * (i + 1))
		committed[i] = high[i] - 40
	}
	for n := 0; ; n++ {
		const in, bad = sourceRate / 10, 2
		const errs = (in - bad) / 4
		const others = in - bad - errs
		p.Step("events-in").Add(in, in, 0)
		p.Step("parse").Add(in, in-bad, bad)
		p.DeadLettered("parse", bad)
		p.Step("route").Add(in-bad, in-bad, 0)
		for _, s := range []string{"errors", "serialize-errors", "errors-out"} {
			p.Step(s).Add(errs, errs, 0)
		}
		for _, s := range []string{"others", "project", "discard"} {
			p.Step(s).Add(others, others, 0)
		}
		p.Step("parse").Observe(time.Duration(35+n%10) * time.Microsecond)
		p.Step("serialize-errors").Observe(12 * time.Microsecond)
		p.Step("project").Observe(800 * time.Nanosecond)

		now := time.Now()
		st := SourceState{Group: "events-consumers", InflightRecords: 120}
		for i := range high {
			high[i] += in/3 + int64(i)
			committed[i] = high[i] - int64(40+15*i+n%7)
			st.Partitions = append(st.Partitions, PartitionState{
				Topic: "events", Partition: int32(i), HighWatermark: high[i], Committed: committed[i], Start: 0,
				Watermark: now.Add(-time.Duration(1200+400*i) * time.Millisecond),
			})
		}
		p.Source(st, now)
		p.Health.SourceTurned(st.Group, st.InflightRecords, len(st.Partitions))
		p.Health.Progress()

		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// TestUI loads the page for a running pipeline in headless Chromium and
// checks that it draws every step with a rate, the health, and then the
// readiness failure with its reason when the broker goes away.
func TestUI(t *testing.T) {
	b := browsertest.New(t, browsertest.Viewport(1600, 900))

	p := New("test", "local", testGraph(t))
	p.Health.Started()
	p.Health.Broker(nil)
	// The second request for api/stats waits for the gate, so that the
	// test sees the page with one snapshot, which has no rates yet.
	h := p.Handler("/metrics")
	gate := make(chan struct{})
	var openGate sync.Once
	defer openGate.Do(func() { close(gate) })
	var statsCalls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/stats" && statsCalls.Add(1) == 2 {
			<-gate
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { feed(ctx, p) })
	defer wg.Wait()
	defer stop()

	b.Load(srv.URL + "/")

	// One snapshot: every step is drawn, its rates are "–", and no edge
	// has a rate yet.
	b.WaitUntil(`document.body.dataset.snapshots === "1"`, `document.body.dataset.snapshots`, 10*time.Second)
	if got := b.Texts(`g[data-step] [data-field^="rate-"], g[data-step] [data-field="errors"]`); len(got) != 3*len(testSteps) ||
		strings.Trim(strings.Join(got, ""), "–") != "" {
		t.Errorf("rates after one snapshot: %q, want %d × \"–\"", got, 3*len(testSteps))
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll(".edge-label:not([hidden])").length`); n != 0 {
		t.Errorf("%d edge rates shown after one snapshot", n)
	}
	openGate.Do(func() { close(gate) })

	// Every step appears, with numeric rates once two snapshots are in.
	b.WaitStepRates(testSteps, 20*time.Second)

	if got := browsertest.Eval[int](b, `document.querySelectorAll("g[data-step]").length`); got != len(testSteps) {
		t.Errorf("%d steps drawn, want %d", got, len(testSteps))
	}
	if got := browsertest.Eval[int](b, `document.querySelectorAll("g[data-edge]").length`); got != len(testSteps)-1 {
		t.Errorf("%d edges drawn, want %d", got, len(testSteps)-1)
	}
	if got, _ := b.Text(`svg[data-field="graph"]`); got == "" {
		t.Error("the graph has no text")
	}
	if c := browsertest.Eval[string](b, `document.getElementById("graph").dataset.crossings`); c != "0" {
		t.Errorf("the layout has %s crossings, want 0", c)
	}

	// The layout goes left to right by longest path: each step is right
	// of its input, and both branches of the router are in one column.
	type box struct{ X, Y float64 }
	boxes := browsertest.Eval[map[string]box](b, `Object.fromEntries(Array.from(document.querySelectorAll("g[data-step]"), g => {
		const r = g.getBoundingClientRect(); return [g.dataset.step, {X: r.x, Y: r.y}];
	}))`)
	for _, e := range [][2]string{{"events-in", "parse"}, {"parse", "route"}, {"route", "errors"}, {"route", "others"}, {"errors", "serialize-errors"}, {"others", "project"}, {"project", "discard"}} {
		if boxes[e[0]].X >= boxes[e[1]].X {
			t.Errorf("%s (x %.0f) is not left of %s (x %.0f)", e[0], boxes[e[0]].X, e[1], boxes[e[1]].X)
		}
	}
	if boxes["errors"].X != boxes["others"].X || boxes["errors"].Y == boxes["others"].Y {
		t.Errorf("the router's branches are not one above the other: %+v %+v", boxes["errors"], boxes["others"])
	}

	// The source is fed at a known pace.
	srcRate := stepRate(t, b, "events-in", "rate-in")
	if srcRate <= 0 || srcRate > 3*sourceRate {
		t.Errorf("source rate %g/s, want about %d/s", srcRate, sourceRate)
	}
	t.Logf("source in-rate on the page: %g/s (fed at %d/s)", srcRate, sourceRate)
	if r := stepRate(t, b, "parse", "errors"); r <= 0 {
		t.Errorf("parse errors %g/s, want > 0", r)
	}
	if got, _ := b.Text(`g[data-step="parse"] [data-field="dlq"]`); got == "0" || got == "–" {
		t.Errorf("parse DLQ %q, want a count", got)
	}
	if got, _ := b.Text(`g[data-step="parse"] [data-field="mean"]`); !strings.HasSuffix(got, "µs") {
		t.Errorf("parse mean %q, want microseconds", got)
	}
	if got, _ := b.Text(`g[data-step="events-in"] [data-field="lag"]`); got == "–" || got == "0" {
		t.Errorf("source lag %q", got)
	}
	if got, _ := b.Text(`g[data-step="events-in"] [data-field="watermark-lag"]`); !strings.HasSuffix(got, " s") {
		t.Errorf("source watermark lag %q, want seconds", got)
	}
	b.WaitUntil(`document.querySelectorAll('table[data-field="partitions"] tbody tr').length === 3`,
		`document.querySelector('table[data-field="partitions"]').innerText`, 5*time.Second)

	// Healthy and ready.
	b.WaitUntil(`document.querySelector('[data-field="health"]').textContent === "OK" &&
		document.querySelector('[data-field="ready"]').textContent === "OK" &&
		document.querySelector('[data-field="reasons-banner"]').hidden`,
		`document.querySelector("header").innerText`, 5*time.Second)
	if got, _ := b.Text(`[data-field="pipeline"]`); got != "test" {
		t.Errorf("pipeline name %q", got)
	}
	b.Screenshot("ui-healthy.png")

	// The broker goes away: not ready, with the reason; still alive.
	p.Health.Broker(errors.New("dial tcp: connection refused"))
	b.WaitUntil(`document.querySelector('[data-field="ready"]').textContent === "NOT READY" &&
		document.querySelector('[data-field="reasons"]').textContent.includes("Kafka broker unreachable: dial tcp: connection refused")`,
		`document.querySelector("header").innerText + " / " + document.querySelector('[data-field="reasons-banner"]').innerText`, 5*time.Second)
	if got, _ := b.Text(`[data-field="health"]`); got != "OK" {
		t.Errorf("liveness %q with the broker down, want OK", got)
	}
	if !browsertest.Eval[bool](b, `!document.querySelector('[data-field="reasons-banner"]').hidden`) {
		t.Error("the reasons are hidden")
	}
	b.Screenshot("ui.png")

	// The process goes away: the page says so, and keeps trying.
	stop()
	srv.CloseClientConnections()
	srv.Close()
	b.WaitUntil(`document.querySelector('[data-field="connection"]').dataset.state === "disconnected" &&
		!document.querySelector('[data-field="disconnected-banner"]').hidden`,
		`document.querySelector("header").innerText`, 10*time.Second)

	if ex := b.Exceptions(); len(ex) > 0 {
		t.Errorf("the page threw:\n%s", strings.Join(ex, "\n"))
	}
}

// stepRate reads a rate ("12.5/s", "1.2k/s") off a step's node.
func stepRate(t *testing.T, b *browsertest.Browser, step, field string) float64 {
	t.Helper()
	return stepRateField(t, b, `g[data-step="`+step+`"] [data-field="`+field+`"]`)
}

// stepRateField reads a rate off the element sel selects.
func stepRateField(t *testing.T, b *browsertest.Browser, sel string) float64 {
	t.Helper()
	text, ok := b.Text(sel)
	if !ok {
		t.Fatalf("no %s", sel)
	}
	s := strings.TrimSuffix(text, "/s")
	mult := 1.0
	for suffix, m := range map[string]float64{"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s = %q: not a rate", sel, text)
	}
	return v * mult
}
