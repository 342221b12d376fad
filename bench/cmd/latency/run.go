package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/seed"
)

// result is one run of a pipeline at a steady rate.
type result struct {
	mode     string
	rate     int // target msg/s
	run      int
	achieved float64 // msg/s produced
	ready    time.Duration
	// delays are the sorted delays of the measured records' first
	// arrivals.
	delays  []time.Duration
	want    int   // measured records the pipeline keeps
	dups    int64 // repeated arrivals of measured records
	cores   float64
	load    float64
	stopErr error
}

// quantile is the q-quantile of the delays (nearest rank), 0 for none.
func (r result) quantile(q float64) time.Duration {
	if len(r.delays) == 0 {
		return 0
	}
	i := int(q*float64(len(r.delays))+0.999999) - 1
	return r.delays[min(max(i, 0), len(r.delays)-1)]
}

func (r result) missing() int { return r.want - len(r.delays) }

// runOne runs pipeline m once at rate msg/s and measures the delays.
func runOne(ctx context.Context, o options, env *harness.Env, prod *producer, m string, rate, r int) (result, error) {
	tag := fmt.Sprintf("%s-%d-%d", m, rate, r+1)
	input, output, group := "lat-in-"+tag, "lat-out-"+tag, "lat-"+tag
	res := result{mode: m, rate: rate, run: r + 1}
	for _, t := range []string{input, output} {
		if err := harness.CreateTopic(ctx, env.Admin, t, partitions); err != nil {
			return res, err
		}
	}
	t, err := startTail(env.Brokers, output)
	if err != nil {
		return res, err
	}
	defer t.stop()
	p, err := start(o, env, m, tag, input, group, output)
	if err != nil {
		return res, err
	}
	defer p.Kill()
	if err := waitReady(ctx, env.Admin, p, group, time.Minute); err != nil {
		return res, err
	}
	res.ready = time.Since(p.Start)
	env.Logf("%s: reading after %v; producing %d msg/s for %v + %v", tag, res.ready.Round(time.Millisecond), rate, o.warmup, o.duration)

	cpu0, err := harness.TreeCPUSeconds(p.PID())
	if err != nil {
		return res, err
	}
	from := time.Now().Add(o.warmup)
	t.countFrom(from)
	sent, took, want, err := prod.steady(ctx, input, rate, o.warmup+o.duration, from)
	if err != nil {
		return res, err
	}
	cpu1, err := harness.TreeCPUSeconds(p.PID())
	if err != nil {
		return res, err
	}
	res.achieved = float64(sent) / took.Seconds()
	res.cores = (cpu1 - cpu0) / took.Seconds()
	res.load = harness.LoadAvg()
	res.want = want

	deadline := time.Now().Add(o.grace)
	for t.counted() < want && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-p.Done:
			return res, fmt.Errorf("pipeline exited (%v); last log lines:\n%s", p.WaitErr, p.LogTail(20))
		case <-time.After(20 * time.Millisecond):
		}
	}
	res.stopErr = p.Terminate(30 * time.Second)
	res.delays, res.dups = t.result()
	env.Logf("%s: %d/%d measured, p50 %v p99 %v p99.9 %v max %v, %.2f cores, load %.2f", tag, len(res.delays), want,
		res.quantile(0.5), res.quantile(0.99), res.quantile(0.999), res.quantile(1), res.cores, res.load)
	if res.stopErr != nil {
		env.Logf("%s: stop: %v\n%s", tag, res.stopErr, p.LogTail(10))
	}
	return res, nil
}

// waitReady waits until p has joined group and the group is stable.
func waitReady(ctx context.Context, adm *kadm.Client, p *harness.Process, group string, limit time.Duration) error {
	deadline := time.After(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("pipeline not in its group after %v; last log lines:\n%s", limit, p.LogTail(20))
		case <-p.Done:
			return fmt.Errorf("pipeline exited before it joined its group (%v); last log lines:\n%s", p.WaitErr, p.LogTail(20))
		case <-tick.C:
		}
		groups, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return err
		}
		if g, ok := groups[group]; ok && g.Err == nil && g.State == "Stable" && len(g.Members) > 0 {
			return nil
		}
	}
}

// measureMaxima measures each pipeline's maximum rate on a backlog of
// o.maxN records: input records per second from its first output to its
// last, which leaves its start-up out.
func measureMaxima(ctx context.Context, o options, env *harness.Env, prod *producer) (map[string]float64, error) {
	input := "lat-max-input"
	if err := harness.CreateTopic(ctx, env.Admin, input, partitions); err != nil {
		return nil, err
	}
	env.Logf("producing a backlog of %d records to measure the maximum rates", o.maxN)
	if err := prod.backlog(ctx, input, o.maxN); err != nil {
		return nil, err
	}
	kept := int64(seed.Kept(o.maxN))
	maxima := make(map[string]float64)
	for _, m := range o.modes {
		tag := "max-" + m
		output, group := "lat-out-"+tag, "lat-"+tag
		if err := harness.CreateTopic(ctx, env.Admin, output, partitions); err != nil {
			return nil, err
		}
		p, err := start(o, env, m, tag, input, group, output)
		if err != nil {
			return nil, err
		}
		var first, done time.Time
		var atFirst int64
		limit := time.Now().Add(5 * time.Minute)
		for done.IsZero() {
			select {
			case <-ctx.Done():
				p.Kill()
				return nil, ctx.Err()
			case <-p.Done:
				return nil, fmt.Errorf("%s exited (%v); last log lines:\n%s", tag, p.WaitErr, p.LogTail(20))
			case <-time.After(20 * time.Millisecond):
			}
			n, err := harness.Records(ctx, env.Admin, output)
			if err != nil {
				p.Kill()
				return nil, err
			}
			now := time.Now()
			if n > 0 && first.IsZero() {
				first, atFirst = now, n
			}
			if n >= kept {
				done = now
			}
			if now.After(limit) {
				p.Kill()
				return nil, fmt.Errorf("%s: %d of %d outputs after 5m", tag, n, kept)
			}
		}
		_ = p.Terminate(30 * time.Second)
		// Two inputs per output: half the records are kept.
		maxima[m] = float64(2*(kept-atFirst)) / done.Sub(first).Seconds()
		env.Logf("%s: %.0f msg/s from the first output to the last (load %.2f)", tag, maxima[m], harness.LoadAvg())
	}
	return maxima, nil
}

// producer writes the input records without linger, so that the input
// side adds as little delay as it can.
type producer struct{ *harness.Producer }

func newProducer(brokers []string) (*producer, error) {
	p, err := harness.NewProducer(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(0))
	if err != nil {
		return nil, err
	}
	return &producer{p}, nil
}

func (p *producer) close() { p.Close() }

func (p *producer) produce(ctx context.Context, topic string, i int, ts time.Time) {
	k, v := seed.RecordAt(i, ts.UnixNano())
	p.Produce(ctx, &kgo.Record{Topic: topic, Key: k, Value: v})
}

func (p *producer) flush(ctx context.Context) error {
	if err := p.Flush(ctx); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// backlog writes n records to topic.
func (p *producer) backlog(ctx context.Context, topic string, n int) error {
	now := time.Now()
	for i := range n {
		p.produce(ctx, topic, i, now)
	}
	return p.flush(ctx)
}

// steady writes records to topic at rate per second for d, each with its
// produce time in its ts field, and returns how many it wrote, the time
// it took, and how many of those produced from on the pipeline keeps.
func (p *producer) steady(ctx context.Context, topic string, rate int, d time.Duration, from time.Time) (sent int, took time.Duration, kept int, err error) {
	start := time.Now()
	sent, err = harness.Pace(ctx, rate, d, time.Millisecond, func(i int) {
		now := time.Now()
		if i%2 == 0 && !now.Before(from) {
			kept++
		}
		p.produce(ctx, topic, i, now)
	})
	if err != nil {
		return 0, 0, 0, err
	}
	took = time.Since(start)
	return sent, took, kept, p.flush(ctx)
}

// tail reads an output topic from the start and notes, for each record
// produced from a given time on, its delay: its arrival minus the
// produce time in its ts field. Repeats (at-least-once) count once.
type tail struct {
	cl   *kgo.Client
	done chan struct{}
	once sync.Once

	mu     sync.Mutex
	from   int64 // Unix ns; math.MaxInt64 until countFrom
	seen   map[int64]bool
	delays []time.Duration
	dups   int64
}

func startTail(brokers []string, topic string) (*tail, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	t := &tail{cl: cl, done: make(chan struct{}), from: 1<<63 - 1, seen: make(map[int64]bool)}
	go t.loop()
	return t, nil
}

func (t *tail) loop() {
	defer close(t.done)
	for {
		fs := t.cl.PollFetches(context.Background())
		if fs.IsClientClosed() {
			return
		}
		now := time.Now().UnixNano()
		t.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			id, ok1 := intField(r.Value, "id")
			ts, ok2 := intField(r.Value, "ts")
			if !ok1 || !ok2 || ts < t.from {
				return
			}
			if t.seen[id] {
				t.dups++
				return
			}
			t.seen[id] = true
			t.delays = append(t.delays, time.Duration(now-ts))
		})
		t.mu.Unlock()
	}
}

// countFrom sets the produce time from which records count.
func (t *tail) countFrom(from time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.from = from.UnixNano()
}

// counted is the number of distinct records counted so far.
func (t *tail) counted() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.delays)
}

// result returns the sorted delays and the number of repeats.
func (t *tail) result() ([]time.Duration, int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := slices.Clone(t.delays)
	slices.Sort(d)
	return d, t.dups
}

func (t *tail) stop() {
	t.once.Do(func() {
		t.cl.Close()
		<-t.done
	})
}

// intField returns the integer value of the top-level JSON field name in
// v, as [seed.Serialize] writes it (`"name":123`), without decoding the
// whole record.
func intField(v []byte, name string) (int64, bool) {
	key := `"` + name + `":`
	i := bytes.Index(v, []byte(key))
	if i < 0 {
		return 0, false
	}
	var n int64
	digits := 0
	for _, c := range v[i+len(key):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int64(c-'0')
		digits++
	}
	return n, digits > 0
}
