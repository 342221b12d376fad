// Command nexmark runs the Nexmark queries of package bench/nexmark on the
// bundled runner and on prism (in process), over a fixed number of
// generated events, and reports for each: the wall time, events/s, the
// CPU seconds of this process (user + system, getrusage) and events per
// CPU second (events/s per core), and whether the output matches the
// in-memory reference.
//
//	nexmark                                  # every query, both runners
//	nexmark -queries q5,q7 -runners local -events 2000000
//
// The reference of each query is computed before its runs, outside the
// measurement. Runs happen one after another in this process, with a
// garbage collection between them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/streams-dev/streams/bench/nexmark"
	"github.com/streams-dev/streams/localrunner"
)

type options struct {
	events, prismEvents int64
	queries, runners    []string
	seed                int64
	splits, parallelism int
	timeout             time.Duration
}

func main() {
	var o options
	var queries, runners string
	flag.Int64Var(&o.events, "events", 1_000_000, "events per run on the bundled runner")
	flag.Int64Var(&o.prismEvents, "prism-events", 0, "events per run on prism (default -events)")
	flag.StringVar(&queries, "queries", "q0,q1,q2,q3,q5,q7,q8", "queries to run, comma-separated")
	flag.StringVar(&runners, "runners", "local,prism", "runners: local (the bundled runner), prism")
	flag.Int64Var(&o.seed, "seed", 1, "the generator's seed")
	flag.IntVar(&o.splits, "splits", 64, "initial splits of the source: the bundled runner buffers a bundle's output whole, so smaller restrictions keep bundles small")
	flag.IntVar(&o.parallelism, "local-parallelism", 0, "the bundled runner's WithParallelism (default GOMAXPROCS)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "time limit of one run")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole command (the references' computation included) to this file")
	flag.Parse()
	beam.Init()
	// Prism logs every job's progress at INFO through the default logger,
	// which beam.Init has just set.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if o.prismEvents <= 0 {
		o.prismEvents = o.events
	}
	o.queries = strings.Split(queries, ",")
	o.runners = strings.Split(runners, ",")
	if o.parallelism <= 0 {
		o.parallelism = runtime.GOMAXPROCS(0)
	}
	if err := profiled(*cpuProfile, func() error { return run(context.Background(), o, os.Stdout) }); err != nil {
		fmt.Fprintln(os.Stderr, "nexmark:", err)
		os.Exit(1)
	}
}

// profiled runs f, with a CPU profile written to file unless it is "".
func profiled(file string, f func() error) (err error) {
	if file == "" {
		return f()
	}
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	if err := pprof.StartCPUProfile(out); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return f()
}

// result is one run's measurement.
type result struct {
	query, runner string
	events        int64
	wall, cpu     time.Duration
	got, want     nexmark.Digest
	err           error
}

func run(ctx context.Context, o options, w io.Writer) error {
	var qs []nexmark.Query
	for _, name := range o.queries {
		q, ok := nexmark.Lookup(name)
		if !ok {
			return fmt.Errorf("no query %q", name)
		}
		qs = append(qs, q)
	}
	for _, r := range o.runners {
		if r != "local" && r != "prism" {
			return fmt.Errorf("no runner %q (local, prism)", r)
		}
	}
	fmt.Fprintf(w, "nexmark: %s; GOMAXPROCS %d, %d CPUs; load average %s\n",
		time.Now().UTC().Format(time.RFC3339), runtime.GOMAXPROCS(0), runtime.NumCPU(), loadavg())
	var results []result
	var failed []error
	for _, q := range qs {
		refs := map[int64]nexmark.Digest{} // by event count
		for _, r := range o.runners {
			n := o.events
			if r == "prism" {
				n = o.prismEvents
			}
			c := nexmark.Config{Events: n, Seed: o.seed}
			c.EnsureDefaults()
			if err := c.Validate(); err != nil {
				return err
			}
			want, ok := refs[n]
			if !ok {
				want = q.Reference(&c)
				refs[n] = want
			}
			res := measure(ctx, o, q, r, c, want)
			fmt.Fprintf(w, "%s on %s: %d events in %v (%.0f/s), %v CPU (%.0f events per CPU second): %s; load average %s\n",
				res.query, res.runner, res.events, res.wall.Round(time.Millisecond), res.rate(),
				res.cpu.Round(time.Millisecond), res.perCPU(), res.check(), loadavg())
			if res.err != nil || res.got != res.want {
				failed = append(failed, fmt.Errorf("%s on %s: %s", res.query, res.runner, res.check()))
			}
			results = append(results, res)
		}
	}
	fmt.Fprintf(w, "\nload average at the end: %s\n\n", loadavg())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "query\trunner\tevents\twall s\tevents/s\tCPU s\tevents/CPU s\tcheck")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%.0f\t%.2f\t%.0f\t%s\n", r.query, r.runner, r.events,
			r.wall.Seconds(), r.rate(), r.cpu.Seconds(), r.perCPU(), r.check())
	}
	tw.Flush()
	return errors.Join(failed...)
}

// measure runs query q over the events of c on runner r.
// want is the digest of its reference.
func measure(ctx context.Context, o options, q nexmark.Query, r string, c nexmark.Config, want nexmark.Digest) result {
	res := result{query: q.Name, runner: r, events: c.Events, want: want}
	name := fmt.Sprintf("%s/%s/%d", q.Name, r, time.Now().UnixNano())
	p, s := beam.NewPipelineWithRoot()
	nexmark.Check(s, name, q.Build(s, nexmark.Source(s, c, o.splits)))
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	runtime.GC()
	cpu0, start := cpuTime(), time.Now()
	switch r {
	case "local":
		var lr *localrunner.Runner
		if lr, res.err = localrunner.New(localrunner.WithParallelism(o.parallelism)); res.err == nil {
			_, res.err = lr.Run(ctx, p)
		}
	case "prism":
		_, res.err = prism.Execute(ctx, p)
	}
	res.wall, res.cpu = time.Since(start), cpuTime()-cpu0
	res.got = nexmark.TakeDigest(name)
	return res
}

func (r result) rate() float64   { return float64(r.events) / r.wall.Seconds() }
func (r result) perCPU() float64 { return float64(r.events) / r.cpu.Seconds() }

func (r result) check() string {
	switch {
	case r.err != nil:
		return "error: " + r.err.Error()
	case r.got != r.want:
		return fmt.Sprintf("MISMATCH: got %v, the reference %v", r.got, r.want)
	}
	return fmt.Sprintf("ok (%d outputs)", r.got.Count)
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadavg is the first three fields of /proc/loadavg, or "?".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
