// Command latency is the third part of `make bench`: the end-to-end delay
// of the seed pipeline (parse JSON, keep half, serialize, produce) at a
// steady input rate, on the bundled runner (--adapter local) and as the
// hand-written franz-go loop, against one standalone development broker.
//
// Each record carries its produce time (Unix ns) in the JSON field "ts",
// which the pipeline keeps; a tail consumer of the output topic notes
// when each record arrives. (The runner copies input timestamps to
// outputs, so the Kafka timestamps cannot serve.) The delay of a record
// is its arrival minus its produce time: it includes the input producer's
// send, the pipeline and the tail consumer's fetch, the same for both
// pipelines. Records produced in the warm-up are not counted.
//
// The rates are 20,000 msg/s and half the maximum: the lower of the two
// pipelines' rates on a backlog of -max-n records, measured at the start
// of the run (from the first output to the last, so start-up is left out).
//
//	go run ./bench/cmd/latency -runs 3
//	go run ./bench/cmd/latency -modes local -rates 20000 -commit-interval 100ms
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/seed"
)

const partitions = 4

var modes = harness.Modes{
	harness.Local,
	harness.Franz,
	{Key: "local-linger0", Label: "(a) with the sink's linger.ms: 0"},
	{Key: "local-commit100ms", Label: "(a) with commit_interval_ms: 100"},
	{Key: "local-commitrare", Label: "(a) with commit_interval_ms: 10000, commit_records: 1000000"},
	{Key: "local-par4", Label: "(a) with the source's parallelism: 4"},
	{Key: "local-alt", Label: "(a) with the -local-bin-alt binary"},
}

// altProgram is the name of the -local-bin-alt binary in the bin
// directory.
const altProgram = "seedpipeline-alt"

// variants are the knobs of (a) that the modes other than local and
// franz turn, to be measured against local in the same run.
var variants = map[string]func(*harness.PipelineConfig){
	"local-linger0": func(c *harness.PipelineConfig) { c.SinkParams = map[string]string{"linger.ms": "0"} },
	"local-par4":    func(c *harness.PipelineConfig) { c.Parallelism = 4 },
	"local-commit100ms": func(c *harness.PipelineConfig) {
		c.CommitInterval = 100 * time.Millisecond
	},
	"local-commitrare": func(c *harness.PipelineConfig) {
		c.CommitInterval, c.CommitRecords = 10*time.Second, 1_000_000
	},
}

// half is the rate spec for half the measured maximum.
const half = 0

type options struct {
	rates    []int // msg/s; half means half the measured maximum
	runs     int
	modes    []string
	duration time.Duration
	warmup   time.Duration
	grace    time.Duration
	maxN     int
	// Knobs of (a): zero means the runner's default.
	commitInterval time.Duration
	linger         string
	// loopLinger is the franz-go loop's producer linger.
	loopLinger time.Duration
	// localAlt is a seedpipeline binary built elsewhere (mode local-alt).
	localAlt string
	keep     bool
}

func main() {
	var o options
	var modeList, rateList string
	flag.StringVar(&rateList, "rates", "20000,half", "input rates in msg/s; half: half the lower of the pipelines' maximum on a backlog")
	flag.IntVar(&o.runs, "runs", 1, "runs of each pipeline at each rate; the table reports medians")
	flag.StringVar(&modeList, "modes", "local,franz", "pipelines to run: local (a), franz (b), and (a) with a knob turned: local-linger0, local-commit100ms, local-commitrare, local-par4, local-alt (needs -local-bin-alt)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured production time of a run, after the warm-up")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "production time at the start of a run that is not measured")
	flag.DurationVar(&o.grace, "grace", 10*time.Second, "how long the last outputs may take after the production")
	flag.IntVar(&o.maxN, "max-n", 300_000, "backlog records for measuring the maximum rate (with -rates half)")
	flag.DurationVar(&o.commitInterval, "commit-interval", 0, "(a)'s commit_interval_ms (0: the runner's default)")
	flag.StringVar(&o.linger, "linger", "", "(a)'s sink linger.ms in override_params (empty: the runner's default)")
	flag.DurationVar(&o.loopLinger, "loop-linger", 0, "(b)'s producer linger: 0, as (a)'s sink, which flushes at the end of each bundle")
	flag.StringVar(&o.localAlt, "local-bin-alt", "", "a bench/cmd/seedpipeline binary built elsewhere (e.g. with another default), run as mode local-alt")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, broker data)")
	flag.Parse()
	var err error
	if o.modes, err = modes.Parse(modeList); err != nil {
		fmt.Fprintln(os.Stderr, "latency: -modes:", err)
		os.Exit(2)
	}
	if o.rates, err = parseRates(rateList); err != nil {
		fmt.Fprintln(os.Stderr, "latency: -rates:", err)
		os.Exit(2)
	}
	if err := harness.NeedsBinary(o.modes, "local-alt", "-local-bin-alt", o.localAlt); err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(2)
	}
	if o.runs < 1 || o.duration <= 0 || o.maxN < 1 {
		fmt.Fprintln(os.Stderr, "latency: want -runs >= 1, -duration > 0 and -max-n >= 1")
		os.Exit(2)
	}
	harness.Run("latency", func(ctx context.Context) error { return run(ctx, o) })
}

// parseRates parses a comma-separated list of rates: positive integers
// or "half".
func parseRates(list string) ([]int, error) {
	var rates []int
	for s := range strings.SplitSeq(list, ",") {
		s = strings.TrimSpace(s)
		if s == "half" {
			rates = append(rates, half)
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is neither a rate >= 1 nor half", s)
		}
		rates = append(rates, n)
	}
	if len(rates) == 0 {
		return nil, fmt.Errorf("no rate")
	}
	return rates, nil
}

func run(ctx context.Context, o options) error {
	var prebuilt map[string]string
	if o.localAlt != "" {
		prebuilt = map[string]string{altProgram: o.localAlt}
	}
	env, err := harness.Start(ctx, harness.Setup{
		Packages:   []string{"./cmd/streams", "./bench/cmd/seedpipeline", "./bench/cmd/franzloop"},
		Partitions: partitions,
		Keep:       o.keep,
		Log:        os.Stderr,
		Prebuilt:   prebuilt,
	})
	if err != nil {
		return err
	}
	defer env.Close()
	prod, err := newProducer(env.Brokers)
	if err != nil {
		return err
	}
	defer prod.close()

	rep := &report{o: o}
	for _, rate := range o.rates {
		if rate == half {
			if rep.maxima == nil {
				if rep.maxima, err = measureMaxima(ctx, o, env, prod); err != nil {
					return err
				}
			}
			rate = rep.halfMax()
		}
		for r := range o.runs {
			for _, m := range harness.Rotate(o.modes, r) {
				res, err := runOne(ctx, o, env, prod, m, rate, r)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					rep.failures = append(rep.failures, fmt.Errorf("%s at %d msg/s run %d: %w", m, rate, r+1, err))
					env.Logf("FAILED: %s at %d msg/s run %d: %v", m, rate, r+1, err)
					continue
				}
				rep.results = append(rep.results, res)
			}
		}
	}
	rep.print(os.Stdout)
	if len(rep.failures) > 0 {
		return fmt.Errorf("%d run(s) failed", len(rep.failures))
	}
	return nil
}

// start starts pipeline m reading input with group and writing output.
func start(o options, env *harness.Env, m, tag, input, group, output string) (*harness.Process, error) {
	if m == "franz" {
		return env.StartProgram(tag, "franzloop", "-brokers", strings.Join(env.Brokers, ","), "-topic", input,
			"-group", group, "-output", output, "-commit-interval", "1s", "-linger", o.loopLinger.String())
	}
	c := harness.PipelineConfig{Brokers: env.Brokers, SourceStep: seed.SourceStep, Input: input, Group: group,
		SinkStep: seed.SinkStep, Output: output, CommitInterval: o.commitInterval}
	if o.linger != "" {
		c.SinkParams = map[string]string{"linger.ms": o.linger}
	}
	if v, ok := variants[m]; ok {
		v(&c)
	}
	program := "seedpipeline"
	if m == "local-alt" {
		program = altProgram
	}
	return env.StartPipeline(tag, program, "local", c)
}
