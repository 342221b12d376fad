package observe

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/streams-dev/streams/dsl"
)

// History defaults: the page charts the last HistoryWindow, sampled every
// HistoryInterval.
const (
	HistoryInterval = time.Second
	HistoryWindow   = 15 * time.Minute
)

// sample is the pipeline's totals at one time, as the history keeps
// them: counters since start (rates come from two samples), and gauges.
type sample struct {
	t                     time.Time
	in, out               float64 // read by the sources, written by the sinks
	errors, rejected, dlq float64 // rejected: dead-lettered or skipped
	lag, wmLag            float64 // NaN without partitions
	sum, count            []float64
}

// history is a bounded ring of samples, taken on a ticker by
// RecordHistory and served by the handler at /api/history.
type history struct {
	every time.Duration
	steps []string // the steps whose processing time the samples hold, in the graph's order

	mu   sync.Mutex // guards ring
	ring *ring[sample]
}

// RecordHistory samples the pipeline's figures every interval (every
// HistoryInterval when 0), keeping those of the last HistoryWindow for
// the page's charts (/api/history), until ctx ends. Memory is fixed: a
// ring of HistoryWindow/interval samples.
func (p *Pipeline) RecordHistory(ctx context.Context, every time.Duration) {
	if p == nil {
		return
	}
	if every <= 0 {
		every = HistoryInterval
	}
	h := &history{every: every, ring: newRing[sample](int(HistoryWindow / every))}
	if p.graph != nil {
		for _, n := range p.graph.Nodes() {
			h.steps = append(h.steps, n.Name())
		}
	}
	p.history.Store(h)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		h.add(p.sample(h.steps))
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (h *history) add(s sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring.push(s)
}

func (h *history) samples() []sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ring.values()
}

// sample takes the figures now.
func (p *Pipeline) sample(steps []string) sample {
	st := p.Stats()
	s := sample{t: st.Time, lag: math.NaN(), wmLag: math.NaN()}
	if p.graph != nil {
		for _, n := range p.graph.Nodes() {
			c := st.Steps[n.Name()]
			switch {
			case n.Kind() == dsl.KindSource:
				s.in += c.In
			case len(n.Outputs()) == 0:
				s.out += c.Out
			}
		}
	}
	for _, c := range st.Steps {
		s.errors += c.Errors
		s.rejected += c.DLQ + c.Skipped
		s.dlq += c.DLQ
	}
	if len(st.Partitions) > 0 {
		s.lag, s.wmLag = 0, 0
		for _, ps := range st.Partitions {
			s.lag += ps.Lag
			s.wmLag = max(s.wmLag, ps.WatermarkLagSeconds)
		}
	}
	s.sum = make([]float64, len(steps))
	s.count = make([]float64, len(steps))
	for i, name := range steps {
		s.sum[i], s.count[i] = st.Steps[name].secondsSum, st.Steps[name].secondsCount
	}
	return s
}

// History is the figures of the last HistoryWindow, as /api/history
// serves them: columns of numbers, one value per sampling interval, the
// oldest first. Rates are per second over the interval that ends at
// Time[i]; a value that is not known is null (NaN here).
type History struct {
	IntervalSeconds float64 `json:"interval_seconds"`
	WindowSeconds   float64 `json:"window_seconds"`
	// Time is when each interval ends, in Unix milliseconds.
	Time []int64 `json:"time"`
	// In is the rate the sources read at, Out the rate the sinks write at.
	In  []Number `json:"in"`
	Out []Number `json:"out"`
	// Errors is the rate of messages the steps rejected: those their
	// function rejected, or those dead-lettered or skipped if more (a
	// reduce step's late messages go to the DLQ without an error), so
	// that it is never below DLQ.
	Errors []Number `json:"errors"`
	DLQ    []Number `json:"dlq"`
	// Lag is the consumer lag summed over the partitions held, in
	// records; WatermarkLag the worst partition's, in seconds.
	Lag          []Number `json:"lag"`
	WatermarkLag []Number `json:"watermark_lag"`
	// Latency is, per step that was timed in the window, the mean of its
	// sampled processing times over each interval, in seconds.
	Latency map[string][]Number `json:"latency"`
}

// Number is a float64 that encodes as a JSON number with 6 significant
// digits, or null when it is NaN or infinite.
type Number float64

// MarshalJSON implements json.Marshaler.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', 6, 64), nil
}

// History returns the figures sampled by RecordHistory of the intervals
// that end after since (all of them when since is zero), so that a page
// that has the others asks only for what is new; empty columns before
// RecordHistory has run.
func (p *Pipeline) History(since time.Time) History {
	out := History{WindowSeconds: HistoryWindow.Seconds(), Time: []int64{}, In: []Number{}, Out: []Number{},
		Errors: []Number{}, DLQ: []Number{}, Lag: []Number{}, WatermarkLag: []Number{}, Latency: map[string][]Number{}}
	h := p.history.Load()
	if h == nil {
		return out
	}
	out.IntervalSeconds = h.every.Seconds()
	ss := h.samples()
	latency := make([][]Number, len(h.steps))
	timed := make([]bool, len(h.steps))
	for i := 1; i < len(ss); i++ {
		a, b := ss[i-1], ss[i]
		dt := b.t.Sub(a.t).Seconds()
		if dt <= 0 || !b.t.After(since) {
			continue
		}
		rate := func(x, y float64) Number { return Number(max(0, y-x) / dt) }
		out.Time = append(out.Time, b.t.UnixMilli())
		out.In = append(out.In, rate(a.in, b.in))
		out.Out = append(out.Out, rate(a.out, b.out))
		out.Errors = append(out.Errors, max(rate(a.errors, b.errors), rate(a.rejected, b.rejected)))
		out.DLQ = append(out.DLQ, rate(a.dlq, b.dlq))
		out.Lag = append(out.Lag, Number(b.lag))
		out.WatermarkLag = append(out.WatermarkLag, Number(b.wmLag))
		for j := range h.steps {
			mean := math.NaN()
			if n := b.count[j] - a.count[j]; n > 0 {
				mean = (b.sum[j] - a.sum[j]) / n
				timed[j] = true
			}
			latency[j] = append(latency[j], Number(mean))
		}
	}
	for j, name := range h.steps {
		if timed[j] {
			out.Latency[name] = latency[j]
		}
	}
	return out
}
