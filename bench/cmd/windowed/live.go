package main

import (
	"context"
	"fmt"
	"time"

	"github.com/streams-dev/streams/bench/internal/harness"
)

// liveResult is one live run.
type liveResult struct {
	mode     string
	run      int
	produced int
	rate     float64 // events per second achieved
	// cores and brokerCores are the CPU seconds per second of production.
	cores, brokerCores float64
	rssBytes           int64
	out                verdict
	incomplete         bool // not every result arrived within the grace time
	load               float64
	stopErr            error
}

func runLive(ctx context.Context, o options, env *harness.Env, prod *producer, m string, r int) (liveResult, error) {
	tag := fmt.Sprintf("live-%s-%d", m, r+1)
	res := liveResult{mode: m, run: r + 1, load: harness.LoadAvg()}
	topic := "bench-window-" + tag
	if err := harness.CreateTopic(ctx, env.Admin, topic, partitions); err != nil {
		return res, err
	}
	pl, err := startPipeline(ctx, o, env, m, tag, topic)
	if err != nil {
		return res, err
	}
	defer pl.kill()
	w, err := watch(env.Brokers, pl.output)
	if err != nil {
		return res, err
	}
	defer w.stop()
	limit := o.timeout
	if m == "prism" {
		limit = o.prismCap
	}
	if err := waitReady(ctx, env.Admin, pl, topic, limit); err != nil {
		return res, err
	}
	env.Logf("%s: reading after %v; producing %d events/s for %v", tag, time.Since(pl.start).Round(time.Millisecond), o.liveRate, o.liveDuration)

	meter, err := env.StartMeter()
	if err != nil {
		return res, err
	}
	cpu0, err := pl.cpu()
	if err != nil {
		return res, err
	}
	in, err := produceLive(ctx, prod, topic, o.liveRate, o.liveDuration)
	if err != nil {
		return res, err
	}
	cpu1, brokerCPU, err := meter.Read(pl.procs...)
	if err != nil {
		return res, err
	}
	res.produced = in.events
	res.rate = float64(in.events) / in.took.Seconds()
	res.cores, res.brokerCores = (cpu1-cpu0)/in.took.Seconds(), brokerCPU/in.took.Seconds()
	skew := o.watermarkSkew()
	if m == "franz" {
		skew = 0 // the loop's watermark is the newest timestamp
	}
	w.expect(in.closed(skew))

	deadline := time.Now().Add(o.liveGrace)
	for !w.complete() {
		if time.Now().After(deadline) {
			res.incomplete = true
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if err := pl.exited(); err != nil {
			return res, err
		}
	}
	res.stopErr = pl.terminate(30 * time.Second)
	res.rssBytes = pl.peakRSS()
	if err := w.catchUp(ctx, pl.output, 10*time.Second); err != nil {
		return res, err
	}
	res.out = w.verdict()
	env.Logf("%s: %d/%d results, delay p50 %v p99 %v", tag, res.out.present, res.out.expected,
		res.out.quantile(0.5).Round(time.Millisecond), res.out.quantile(0.99).Round(time.Millisecond))
	return res, nil
}
