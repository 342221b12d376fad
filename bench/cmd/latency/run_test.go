package main

import (
	"testing"
	"time"

	"github.com/streams-dev/streams/bench/internal/seed"
)

// The tail reads id and ts from what the pipeline writes: seed.Serialize
// of the parsed input.
func TestIntFieldOfOutput(t *testing.T) {
	ts := time.Date(2026, 12, 7, 16, 0, 0, 123456789, time.UTC).UnixNano()
	_, v := seed.RecordAt(42, ts)
	e, err := seed.Parse(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := seed.Serialize(e)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := intField(out, "id"); !ok || id != 42 {
		t.Errorf("id = %d, %v; want 42 in %s", id, ok, out)
	}
	if got, ok := intField(out, "ts"); !ok || got != ts {
		t.Errorf("ts = %d, %v; want %d in %s", got, ok, ts, out)
	}
	if _, ok := intField(out, "nope"); ok {
		t.Error("found a field that is not there")
	}
}

func TestQuantile(t *testing.T) {
	var r result
	if r.quantile(0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
	for i := 1; i <= 1000; i++ {
		r.delays = append(r.delays, time.Duration(i))
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}, {0, 1}} {
		if got := r.quantile(c.q); got != c.want {
			t.Errorf("quantile(%v) = %d, want %d", c.q, got, c.want)
		}
	}
}

func TestParseRates(t *testing.T) {
	got, err := parseRates("20000, half")
	if err != nil || len(got) != 2 || got[0] != 20000 || got[1] != half {
		t.Errorf("parseRates = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "fast", "20000,-1"} {
		if _, err := parseRates(bad); err == nil {
			t.Errorf("parseRates(%q): no error", bad)
		}
	}
}
