package observe

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestHistory feeds known figures a second apart and checks the columns:
// rates per second, gauges as they were, errors never below the DLQ, and
// only the last samples the ring holds, oldest first.
func TestHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New("test", "local", testGraph(t))
		h := &history{every: time.Second, ring: newRing[sample](4), steps: testSteps}
		p.history.Store(h)
		if got := p.History(time.Time{}); len(got.Time) != 0 || got.IntervalSeconds != 1 {
			t.Fatalf("history before a sample: %+v", got)
		}
		for i := range 6 {
			h.add(p.sample(h.steps))
			if i == 1 {
				// From the third sample on, the source has partitions.
				p.Source(SourceState{Group: "g", Partitions: []PartitionState{
					{Topic: "events", Partition: 0, HighWatermark: 100, Committed: 90, Start: 0, Watermark: time.Now().Add(-3 * time.Second)},
					{Topic: "events", Partition: 1, HighWatermark: 100, Committed: 95, Start: 0, Watermark: time.Now().Add(-2 * time.Second)},
				}}, time.Now())
			}
			time.Sleep(time.Second)
			p.Step("events-in").Add(uint64(10*(i+1)), uint64(10*(i+1)), 0)
			p.Step("parse").Add(10, 8, 2)
			p.DeadLettered("parse", 2)
			p.DeadLettered("route", 1) // a rejection without an error (as late messages are)
			p.Step("errors-out").Add(5, 5, 0)
			p.Step("discard").Add(3, 3, 0)
			if i%2 == 0 {
				p.Step("parse").Observe(time.Duration(i+1) * time.Millisecond)
			}
		}
		got := p.History(time.Time{})
		// Four samples kept (the ring's size): three intervals, those
		// ending at the 4th, 5th and 6th samples.
		if len(got.Time) != 3 || len(got.In) != 3 || len(got.Lag) != 3 {
			t.Fatalf("%d intervals (%d, %d), want 3: %+v", len(got.Time), len(got.In), len(got.Lag), got)
		}
		for i := 1; i < len(got.Time); i++ {
			if got.Time[i]-got.Time[i-1] != 1000 {
				t.Errorf("times %v are not a second apart, in order", got.Time)
			}
		}
		for i, want := range []Number{30, 40, 50} {
			if got.In[i] != want {
				t.Errorf("in[%d] = %v, want %v", i, got.In[i], want)
			}
		}
		for i := range got.Time {
			if got.Out[i] != 8 || got.DLQ[i] != 3 || got.Errors[i] != 3 || got.Lag[i] != 15 {
				t.Errorf("interval %d: out %v (want 8) dlq %v (want 3) errors %v (want 3) lag %v (want 15)",
					i, got.Out[i], got.DLQ[i], got.Errors[i], got.Lag[i])
			}
			if wm := float64(got.WatermarkLag[i]); wm < 3 {
				t.Errorf("watermark lag[%d] = %v, want at least 3", i, wm)
			}
		}
		lat := got.Latency["parse"]
		if len(got.Latency) != 1 || len(lat) != 3 {
			t.Fatalf("latency %v, want parse's only", got.Latency)
		}
		// parse was timed after samples 1, 3 and 5 (i = 0, 2, 4): in the
		// intervals ending at samples 4 and 6.
		near := func(n Number, v float64) bool { return math.Abs(float64(n)-v) < 1e-12 }
		if !near(lat[0], 3e-3) || !math.IsNaN(float64(lat[1])) || !near(lat[2], 5e-3) {
			t.Errorf("parse latency %v, want [0.003 NaN 0.005]", lat)
		}
		// Since the end of the first interval: the last two.
		if got := p.History(time.UnixMilli(got.Time[0])); len(got.Time) != 2 || got.In[0] != 40 || len(got.Latency["parse"]) != 2 {
			t.Errorf("since the first interval: %+v", got)
		}
		if got := p.History(time.UnixMilli(got.Time[2])); len(got.Time) != 0 || len(got.Latency) != 0 {
			t.Errorf("since the last interval: %+v", got)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"parse":[0.003,null,0.005]`) || !strings.Contains(string(b), `"in":[30,40,50]`) {
			t.Errorf("JSON: %s", b)
		}
	})
}

// TestRecordHistory checks that RecordHistory samples on its ticker, is
// bounded by the window, and stops with its context.
func TestRecordHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := New("test", "local", testGraph(t))
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		wg.Go(func() { p.RecordHistory(ctx, 5*time.Minute) }) // 3 samples in the window
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if got := p.History(time.Time{}); len(got.Time) != 0 || got.IntervalSeconds != 300 || got.WindowSeconds != 900 {
			t.Errorf("after one sample: %+v", got)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		got := p.History(time.Time{})
		if len(got.Time) != 2 {
			t.Errorf("%d intervals after an hour, want 2 (3 samples in 15 minutes)", len(got.Time))
		}
		if len(got.Lag) == 2 && !math.IsNaN(float64(got.Lag[1])) {
			t.Errorf("lag without partitions: %v, want NaN", got.Lag)
		}
		cancel()
		wg.Wait()
		var nilP *Pipeline
		nilP.RecordHistory(ctx, 0) // a nil pipeline records nothing, and returns
	})
}
