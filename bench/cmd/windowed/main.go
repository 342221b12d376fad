// Command windowed is the stateful half of `make bench`: it measures the
// windowed pipeline of package bench/internal/window (parse JSON events,
// count and sum the values per key in 10-second tumbling windows of the
// record timestamp, write each window's results as JSON) on the bundled
// runner (--adapter local), as a hand-written franz-go loop
// (bench/cmd/windowloop) and on prism (--adapter beam), all against one
// standalone development broker, each pipeline as its own process with
// its own consumer group and output topic. Mode local2 runs the bundled
// runner as two processes in one group; mode local-before runs a
// pipeline binary built at another commit (-local-bin-before), so that a
// change is measured before and after in the same run.
//
// Two measurements per pipeline and run:
//
// Backlog: -n events over 4 partitions and 10,000 keys, produced once
// before the runs, with timestamps from a fixed past time on at 40,000
// events per event-time second (10,000 per partition), then in each
// partition a closing record stamped in 2100 that carries the watermarks
// past the last window (its own window never closes). The benchmark
// computes the expected results while producing. A run lasts from the
// pipeline's start until every expected result is on its output topic
// with the exact count and sum, and the group has committed every event
// (not the closing records, whose window never closes); reported are
// events per second up to the complete output, CPU seconds of the
// pipeline (with descendants) and of the broker up to then, the time the
// commits took, peak RSS and the output's check (missing, wrong, repeated
// results). Windows hold the bundled runner's commits, so the rate is
// judged from the output, not the group.
//
// Live: a fresh input topic gets -live-rate events per second for
// -live-duration, stamped with the wall clock, once the pipeline reads it.
// A consumer of the output topic notes when each result arrives; the
// delay of a result is its arrival time minus its window's end. Reported
// are p50, p99 and the maximum over the windows that ended before the
// production stopped, the CPU used during production, and peak RSS.
//
// Prism is capped: its backlog run stops after -prism-cap, and is
// reported with what it had done by then.
//
//	go run ./bench/cmd/windowed -n 1000000 -runs 3
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/window"
	"github.com/streams-dev/streams/io/kafka"
)

const partitions = 4

// modes are the ways of running the windowed aggregation.
var modes = harness.Modes{
	harness.Local,
	{Key: "local-before", Label: "(a-before) runner --adapter local, -local-bin-before"},
	{Key: "local2", Label: "(a2) runner --adapter local, 2 processes"},
	harness.LocalEOS,
	{Key: "shuffle", Label: "(s) runner --adapter local, Reduce through the shuffle"},
	{Key: "shuffle2", Label: "(s2) runner --adapter local, through the shuffle, 2 processes"},
	harness.Franz,
	harness.Prism,
}

type options struct {
	n            int
	runs         int
	modes        []string
	timeout      time.Duration
	prismCap     time.Duration
	liveRate     int
	liveDuration time.Duration
	liveGrace    time.Duration
	keep         bool
	skew         time.Duration
	memory       bool
	localBefore  string // a windowpipeline binary built elsewhere, for local-before
	logOutput    io.Writer
}

func main() {
	var o options
	var modeList string
	flag.IntVar(&o.n, "n", 1_000_000, "backlog events; 0 skips the backlog measurement")
	flag.IntVar(&o.runs, "runs", 1, "runs of each pipeline; the tables report medians")
	flag.StringVar(&modeList, "modes", "local,local-eos,shuffle,shuffle2,franz,prism",
		"pipelines to run: local (a), local-before (a-before: needs -local-bin-before), local2 (a2: 2 processes in one group), local-eos (a+x: (a) exactly-once), shuffle (s: the Reduce keyed through the shuffle), shuffle2 (s2: that, 2 processes), franz (b), prism (c)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up on a local or franz backlog run whose output is not complete after this long")
	flag.DurationVar(&o.prismCap, "prism-cap", 2*time.Minute, "stop a prism backlog run after this long and report what it did")
	flag.IntVar(&o.liveRate, "live-rate", 20_000, "events per second of the live measurement")
	flag.DurationVar(&o.liveDuration, "live-duration", 35*time.Second, "how long the live measurement produces; 0 skips it")
	flag.DurationVar(&o.liveGrace, "live-grace", 30*time.Second, "how long after the live production the results may take to arrive")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, broker data)")
	flag.BoolVar(&o.memory, "memory-state", false, "the bundled runner keeps its state in memory (--state-dir none), not durable")
	flag.DurationVar(&o.skew, "skew", 0, "the DSL pipelines' watermark_max_skew_ms (0: the default, 1s); the loop's watermark has none")
	flag.StringVar(&o.localBefore, "local-bin-before", "",
		"a bench/cmd/windowpipeline binary built at another commit: adds mode local-before, the bundled runner with it")
	flag.Parse()
	var err error
	if o.modes, err = parseModes(modeList, o.localBefore); err != nil {
		fmt.Fprintln(os.Stderr, "windowed: -modes:", err)
		os.Exit(2)
	}
	if o.n < 0 || o.runs < 1 || o.liveRate < 1 || o.liveDuration < 0 || (o.n == 0 && o.liveDuration == 0) {
		fmt.Fprintln(os.Stderr, "windowed: want -n >= 0, -runs >= 1, -live-rate >= 1, and -n or -live-duration > 0")
		os.Exit(2)
	}
	o.logOutput = os.Stderr

	harness.Run("windowed", func(ctx context.Context) error { return run(ctx, o) })
}

// watermarkSkew is the DSL pipelines' watermark MaxSkew.
func (o options) watermarkSkew() time.Duration {
	if o.skew > 0 {
		return o.skew
	}
	return kafka.DefaultMaxSkew
}

// parseModes parses -modes. A -local-bin-before binary adds mode
// local-before, right after local, unless the list has it; the mode
// needs the binary.
func parseModes(list, before string) ([]string, error) {
	ms, err := modes.Parse(list)
	if err != nil {
		return nil, err
	}
	has := slices.Contains(ms, "local-before")
	switch {
	case has && before == "":
		return nil, errors.New("mode local-before needs -local-bin-before")
	case has || before == "":
		return ms, nil
	}
	i := slices.Index(ms, "local") + 1 // 0 without local: first
	return slices.Insert(ms, i, "local-before"), nil
}

func run(ctx context.Context, o options) error {
	setup := harness.Setup{
		Packages:   []string{"./cmd/streams", "./bench/cmd/windowpipeline", "./bench/cmd/windowshuffle", "./bench/cmd/windowloop"},
		Partitions: partitions,
		Keep:       o.keep,
		Log:        o.logOutput,
	}
	if o.localBefore != "" {
		setup.Prebuilt = map[string]string{beforeProgram: o.localBefore}
	}
	env, err := harness.Start(ctx, setup)
	if err != nil {
		return err
	}
	defer env.Close()
	prod, err := newProducer(env.Brokers)
	if err != nil {
		return err
	}
	defer prod.close()

	var backlog *input
	if o.n > 0 {
		if err := harness.CreateTopic(ctx, env.Admin, window.InputTopic, partitions); err != nil {
			return err
		}
		env.Logf("producing %d events of ~%d bytes to %s (%d partitions, %d keys), then a closing record per partition",
			o.n, window.ValueSize, window.InputTopic, partitions, window.Keys)
		if backlog, err = produceBacklog(ctx, prod, window.InputTopic, o.n); err != nil {
			return err
		}
		if got, err := harness.Records(ctx, env.Admin, window.InputTopic); err != nil {
			return err
		} else if got != int64(o.n+partitions) {
			return fmt.Errorf("input topic holds %d records, want %d", got, o.n+partitions)
		}
		env.Logf("produced in %v (%.0f events/s); %d results expected", backlog.took.Round(time.Millisecond),
			float64(o.n)/backlog.took.Seconds(), len(backlog.want))
	}

	rep := report{o: o, backlog: backlog}
	for r := range o.runs {
		order := harness.Rotate(o.modes, r)
		for _, m := range order {
			if backlog == nil {
				break
			}
			res, err := runBacklog(ctx, o, env, backlog, m, r)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				rep.failed(env, fmt.Errorf("%s backlog run %d: %w", m, r+1, err))
				continue
			}
			rep.backlogRuns = append(rep.backlogRuns, res)
		}
		for _, m := range order {
			if o.liveDuration == 0 {
				break
			}
			res, err := runLive(ctx, o, env, prod, m, r)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				rep.failed(env, fmt.Errorf("%s live run %d: %w", m, r+1, err))
				continue
			}
			rep.liveRuns = append(rep.liveRuns, res)
		}
	}
	rep.print(os.Stdout)
	if len(rep.failures) > 0 {
		return fmt.Errorf("%d run(s) failed", len(rep.failures))
	}
	return nil
}
