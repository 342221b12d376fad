// Command throughput is `make bench`: it measures the seed pipeline
// (parse JSON, keep half, serialize, produce) on the bundled runner
// (--adapter local), as a hand-written franz-go loop, and on prism
// (--adapter beam), all against one standalone development broker.
//
// In one run it builds cmd/streams and the two pipeline programs, starts
// `streams broker -data-dir` in a temporary directory on a free port,
// produces -n JSON records of about 200 bytes over 4 partitions (half of
// type "event", keyed), then starts each pipeline as its own process with
// its own consumer group and output topic. A pipeline's time runs from
// its start until its group has committed the whole input (kadm, polled);
// then it gets SIGTERM. Reported per pipeline: input messages per second,
// CPU seconds of the pipeline process (and its descendants) and of the
// broker over that time, peak RSS (VmHWM sampled, and rusage), and the
// output topic's record count against the expected one (more means
// duplicates, which at-least-once allows). With -runs K every pipeline
// runs K times, in rotating order, and the table gives medians.
//
//	go run ./bench/cmd/throughput -n 1000000 -runs 3
//
// Prism is capped: after -prism-cap it is stopped and its rate is what it
// committed in that time; the table says so.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/seed"
)

const partitions = 4

// modes are the ways of running the seed pipeline.
var modes = harness.Modes{
	harness.Local,
	{Key: "local-metrics", Label: "(a+m) (a) with metrics: {type: prometheus}"},
	harness.LocalEOS,
	harness.Franz,
	harness.Prism,
	{Key: "local-alt", Label: "(a') (a) with the -local-bin-alt binary"},
	{Key: "local-nobm", Label: "(a-bm) (a) built without the Beam-metric counters"},
}

// noBeamMetricsProgram is the seed pipeline built with the tag
// streams_nobeammetrics (beamtranslate.NoBeamMetricsTag), which leaves
// out the steps' Beam counters: mode local-nobm, the "before" of issue
// 20's check that the counters cost the bundled runner at most 3%.
const noBeamMetricsProgram = "seedpipeline-nobm"

// altProgram is the name of the -local-bin-alt binary in the harness.
const altProgram = "seedpipeline-alt"

type options struct {
	n         int
	runs      int
	modes     []string
	timeout   time.Duration
	prismCap  time.Duration
	keep      bool
	logOutput io.Writer
	// localAlt is a seedpipeline binary built elsewhere (mode
	// local-alt): the same pipeline at another commit, say, measured
	// side by side with this one.
	localAlt string
}

// result is one pipeline run.
type result struct {
	mode  string
	run   int
	wall  time.Duration
	first time.Duration // from start to the group's first commit
	// outDone is from start until the output topic held every expected
	// record: the processing time without the commit interval's wait.
	outDone   time.Duration
	committed int64
	capped    bool
	cpu       float64 // pipeline process tree, CPU seconds until committed
	brokerCPU float64
	rssBytes  int64
	output    int64
	expected  int64 // -1 when unknown (capped)
	load      float64
	stopErr   error
}

// outRate is input messages per second until the output was complete, or
// 0 if it never was.
func (r result) outRate() float64 {
	if r.outDone <= 0 {
		return 0
	}
	return float64(r.committed) / r.outDone.Seconds()
}

func (r result) rate() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(r.committed) / r.wall.Seconds()
}

func main() {
	var o options
	var modeList string
	flag.IntVar(&o.n, "n", 1_000_000, "input messages")
	flag.IntVar(&o.runs, "runs", 1, "runs of each pipeline; the table reports medians")
	flag.StringVar(&modeList, "modes", "local,local-nobm,local-metrics,local-eos,franz,prism", "pipelines to run: local (a), local-nobm (a-bm), local-metrics (a+m), local-eos (a+x), franz (b), prism (c)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up on a local or franz run that has not committed the input after this long")
	flag.DurationVar(&o.prismCap, "prism-cap", 2*time.Minute, "stop a prism run after this long and report the rate of what it committed")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, broker data)")
	flag.StringVar(&o.localAlt, "local-bin-alt", "", "a bench/cmd/seedpipeline binary built elsewhere (e.g. at another commit), run as mode local-alt")
	flag.Parse()
	var err error
	if o.modes, err = modes.Parse(modeList); err != nil {
		fmt.Fprintln(os.Stderr, "throughput: -modes:", err)
		os.Exit(2)
	}
	if err := harness.NeedsBinary(o.modes, "local-alt", "-local-bin-alt", o.localAlt); err != nil {
		fmt.Fprintln(os.Stderr, "throughput:", err)
		os.Exit(2)
	}
	if o.n < 1 || o.runs < 1 {
		fmt.Fprintln(os.Stderr, "throughput: want -n >= 1 and -runs >= 1")
		os.Exit(2)
	}
	o.logOutput = os.Stderr

	harness.Run("throughput", func(ctx context.Context) error { return run(ctx, o) })
}

func run(ctx context.Context, o options) error {
	var prebuilt map[string]string
	if o.localAlt != "" {
		prebuilt = map[string]string{altProgram: o.localAlt}
	}
	var tagged map[string]harness.TaggedBuild
	if slices.Contains(o.modes, "local-nobm") {
		tagged = map[string]harness.TaggedBuild{noBeamMetricsProgram: {Package: "./bench/cmd/seedpipeline", Tags: []string{"streams_nobeammetrics"}}}
	}
	env, err := harness.Start(ctx, harness.Setup{
		Packages:   []string{"./cmd/streams", "./bench/cmd/seedpipeline", "./bench/cmd/franzloop"},
		Partitions: partitions,
		Keep:       o.keep,
		Log:        o.logOutput,
		Prebuilt:   prebuilt,
		Tagged:     tagged,
	})
	if err != nil {
		return err
	}
	defer env.Close()
	if err := harness.CreateTopic(ctx, env.Admin, seed.InputTopic, partitions); err != nil {
		return err
	}
	env.Logf("producing %d messages of ~%d bytes to %s (%d partitions)", o.n, seed.ValueSize, seed.InputTopic, partitions)
	took, err := produceInput(ctx, env.Client, seed.InputTopic, o.n)
	if err != nil {
		return err
	}
	if got, err := harness.Records(ctx, env.Admin, seed.InputTopic); err != nil {
		return err
	} else if got != int64(o.n) {
		return fmt.Errorf("input topic holds %d records, want %d", got, o.n)
	}
	env.Logf("produced in %v (%.0f msg/s)", took.Round(time.Millisecond), float64(o.n)/took.Seconds())

	var results []result
	var failures []error
	for r := range o.runs {
		for _, m := range harness.Rotate(o.modes, r) {
			if err := ctx.Err(); err != nil {
				return err
			}
			res, err := runOne(ctx, o, env, m, r)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				failures = append(failures, fmt.Errorf("%s run %d: %w", m, r+1, err))
				env.Logf("FAILED: %s run %d: %v", m, r+1, err)
				continue
			}
			results = append(results, res)
		}
	}
	printReport(os.Stdout, o, took, results, failures)
	if len(failures) > 0 {
		return fmt.Errorf("%d run(s) failed", len(failures))
	}
	return nil
}

// produceInput writes seed.Record(0..n-1) to topic and returns the time
// it took.
func produceInput(ctx context.Context, cl *kgo.Client, topic string, n int) (time.Duration, error) {
	p := &harness.Producer{Client: cl}
	start := time.Now()
	for i := range n {
		k, v := seed.Record(i)
		p.Produce(ctx, &kgo.Record{Topic: topic, Key: k, Value: v})
	}
	if err := p.Flush(ctx); err != nil {
		return 0, fmt.Errorf("produce input: %w", err)
	}
	return time.Since(start), nil
}

// runOne runs mode m once and measures it.
func runOne(ctx context.Context, o options, env *harness.Env, m string, r int) (result, error) {
	tag := fmt.Sprintf("%s-%d", m, r+1)
	group, output := "bench-"+tag, "bench-out-"+tag
	if err := harness.CreateTopic(ctx, env.Admin, output, partitions); err != nil {
		return result{}, err
	}
	limit := o.timeout
	if m == "prism" {
		limit = o.prismCap
	}

	res := result{mode: m, run: r + 1, expected: int64(seed.Kept(o.n)), load: harness.LoadAvg()}
	meter, err := env.StartMeter()
	if err != nil {
		return res, err
	}
	var p *harness.Process
	switch m {
	case "franz":
		p, err = env.StartProgram(tag, "franzloop", "-brokers", strings.Join(env.Brokers, ","), "-topic", seed.InputTopic,
			"-group", group, "-output", output, "-commit-interval", "1s")
	default:
		adapter := "local"
		if m == "prism" {
			adapter = "beam"
		}
		program := "seedpipeline"
		switch m {
		case "local-alt":
			program = altProgram
		case "local-nobm":
			program = noBeamMetricsProgram
		}
		p, err = env.StartPipeline(tag, program, adapter, harness.PipelineConfig{Brokers: env.Brokers,
			SourceStep: seed.SourceStep, Input: seed.InputTopic, Group: group,
			SinkStep: seed.SinkStep, Output: output, Metrics: m == "local-metrics", ExactlyOnce: m == "local-eos"})
	}
	if err != nil {
		return res, err
	}
	defer p.Kill()

	// Poll the group's commits until they cover the input.
	want := int64(o.n)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	lastLog := time.Now()
	for {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-p.Done:
			return res, fmt.Errorf("pipeline exited before committing the input (%v); last log lines:\n%s", p.WaitErr, p.LogTail(20))
		case <-tick.C:
		}
		got, err := harness.Committed(ctx, env.Admin, group, seed.InputTopic)
		if err != nil {
			return res, err
		}
		elapsed := time.Since(p.Start)
		if got > 0 && res.first == 0 {
			res.first = elapsed
		}
		if res.outDone == 0 {
			out, err := harness.Records(ctx, env.Admin, output)
			if err != nil {
				return res, err
			}
			if out >= res.expected {
				res.outDone = elapsed
			}
		}
		if got >= want || elapsed >= limit {
			res.wall, res.committed = elapsed, got
			break
		}
		if time.Since(lastLog) >= 10*time.Second {
			env.Logf("%s run %d: %d/%d committed after %v", m, r+1, got, want, elapsed.Round(time.Second))
			lastLog = time.Now()
		}
	}
	// Measure before stopping: the drain after SIGTERM is not part of it.
	if res.cpu, res.brokerCPU, err = meter.Read(p); err != nil {
		return res, err
	}
	if res.committed < want {
		res.capped = true
		res.expected = -1
		env.Logf("%s run %d: capped after %v with %d/%d committed", m, r+1, limit, res.committed, want)
		if m != "prism" {
			_ = p.Terminate(30 * time.Second)
			return res, fmt.Errorf("timed out after %v: %d of %d input messages committed; last log lines:\n%s",
				limit, res.committed, want, p.LogTail(20))
		}
	}
	res.stopErr = p.Terminate(30 * time.Second)
	res.rssBytes = p.PeakRSS()
	if m == "local-eos" {
		// Its output holds the transactions' control records too.
		res.output, err = harness.CommittedRecords(ctx, env.Brokers, output)
	} else {
		res.output, err = harness.Records(ctx, env.Admin, output)
	}
	if err != nil {
		return res, err
	}
	env.Logf("%s run %d: %.0f msg/s, %d out of %d expected", m, r+1, res.rate(), res.output, res.expected)
	if res.stopErr != nil {
		env.Logf("%s run %d: stop: %v\n%s", m, r+1, res.stopErr, p.LogTail(10))
	}
	return res, nil
}
