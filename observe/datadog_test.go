package observe

import (
	"context"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// agent is a DogStatsD agent for tests: a real UDP socket whose
// datagrams are split into metric lines.
type agent struct {
	conn  *net.UDPConn
	lines chan string
	kept  []string // read from lines and not yet collected
}

func newAgent(t *testing.T) *agent {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{conn: conn, lines: make(chan string, 10000)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			for l := range strings.SplitSeq(strings.TrimSpace(string(buf[:n])), "\n") {
				a.lines <- l
			}
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return a
}

// collect returns the lines received for the metric names given (each
// "name:value|type|#tags"), waiting until want of them came or 5 s.
// Lines of other names are kept for a later collect.
func (a *agent) collect(t *testing.T, want int, names ...string) []string {
	t.Helper()
	var got, rest []string
	take := func(l string) {
		name, _, _ := strings.Cut(l, ":")
		if slices.Contains(names, name) {
			got = append(got, l)
		} else {
			rest = append(rest, l)
		}
	}
	for _, l := range a.kept {
		take(l)
	}
	defer func() { a.kept = rest }()
	deadline := time.After(5 * time.Second)
	for len(got) < want {
		select {
		case l := <-a.lines:
			take(l)
		case <-deadline:
			t.Fatalf("got %d of %d lines for %v: %q", len(got), want, names, got)
		}
	}
	return got
}

// TestDatadogSendsTheRegistry runs the exporter against a UDP socket and
// checks that counters go as increases, gauges as values and histograms
// as counts per bucket and a mean, each with its labels and the
// configured tags.
func TestDatadogSendsTheRegistry(t *testing.T) {
	a := newAgent(t)
	p := New("pl", "local", testGraph(t))
	d, err := NewDatadog(p.Registry(), DatadogConfig{
		Addr: a.conn.LocalAddr().String(), Interval: time.Hour,
		Tags: map[string]string{"env": "prod", "team": "ingest"},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Step("parse").Add(3, 2, 1)
	p.Step("parse").Observe(2 * time.Microsecond)
	p.Step("parse").Observe(4 * time.Microsecond)
	p.Running(true)
	if err := d.Send(); err != nil {
		t.Fatal(err)
	}
	const tags = "|#env:prod,team:ingest,pipeline:pl,step:parse"
	in := a.collect(t, len(testSteps), MetricStepIn)
	if !slices.Contains(in, MetricStepIn+":3|c"+tags) {
		t.Errorf("first send: %q lacks parse's 3 messages in", in)
	}
	if !slices.Contains(in, MetricStepIn+":0|c|#env:prod,team:ingest,pipeline:pl,step:route") {
		t.Errorf("first send: %q lacks route's 0", in)
	}
	up := a.collect(t, 1, MetricUp)
	if up[0] != MetricUp+":1|g|#env:prod,team:ingest,pipeline:pl" {
		t.Errorf("gauge: got %q", up[0])
	}

	// The second send carries the increase, and nothing for what did
	// not move.
	p.Step("parse").Add(5, 0, 0)
	p.Step("parse").Observe(10 * time.Microsecond)
	p.Running(false)
	if err := d.c.Flush(); err != nil {
		t.Fatal(err)
	}
	drain(a)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Run(ctx); err != nil { // sends once more and closes
		t.Fatal(err)
	}
	got := a.collect(t, 1, MetricStepIn)
	if got[0] != MetricStepIn+":5|c"+tags {
		t.Errorf("second send: got %q, want parse's increase of 5 alone", got)
	}
	if up := a.collect(t, 1, MetricUp); up[0] != MetricUp+":0|g|#env:prod,team:ingest,pipeline:pl" {
		t.Errorf("gauge after stop: got %q", up[0])
	}
	// count (the +Inf bucket), mean, and the 10 buckets the observation
	// raised.
	hist := a.collect(t, 12, MetricStepSeconds+"_count", MetricStepSeconds+"_avg", MetricStepSeconds+"_bucket")
	for _, w := range []string{
		MetricStepSeconds + "_count:1|c" + tags,
		// 10 µs falls in the bucket up to 1.6e-05 (1e-6 * 4^2).
		MetricStepSeconds + "_bucket:1|c" + tags + ",le:1.6e-05",
	} {
		if !slices.Contains(hist, w) {
			t.Errorf("histogram: %q lacks %q", hist, w)
		}
	}
	// The mean of the interval's one observation, 10 µs.
	i := slices.IndexFunc(hist, func(l string) bool { return strings.HasPrefix(l, MetricStepSeconds+"_avg:") })
	if i < 0 {
		t.Fatalf("no mean sent: %q", hist)
	}
	v, tg, _ := strings.Cut(strings.TrimPrefix(hist[i], MetricStepSeconds+"_avg:"), "|")
	if f, err := strconv.ParseFloat(v, 64); err != nil || math.Abs(f-1e-5) > 1e-12 || tg != "g"+tags {
		t.Errorf("mean: got %q, want 1e-05 (a gauge, tagged %s)", hist[i], tags)
	}
}

func drain(a *agent) {
	a.kept = nil
	for {
		select {
		case <-a.lines:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

// TestDatadogCountsKeepFractions checks that a counter growing by less
// than one per send is not lost to rounding: what is sent adds up to the
// counter's value, within a half.
func TestDatadogCountsKeepFractions(t *testing.T) {
	a := newAgent(t)
	d, err := NewDatadog(New("pl", "local", nil).Registry(), DatadogConfig{Addr: a.conn.LocalAddr().String()})
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for range 8 { // 0, 0.4, ..., 2.8
		if err := d.count("frac_total", v, nil); err != nil {
			t.Fatal(err)
		}
		v += 0.4
	}
	if err := d.c.Flush(); err != nil {
		t.Fatal(err)
	}
	got := a.collect(t, 4, "frac_total")
	sum := 0
	for _, l := range got {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(l, "frac_total:"), "|c"))
		if err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		sum += n
	}
	if sum != 3 {
		t.Errorf("sent %q, adding up to %d; want 3 (the value is 2.8)", got, sum)
	}
}
