package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/streams-dev/streams/bench/internal/harness"
)

type report struct {
	o        options
	maxima   map[string]float64 // msg/s on the backlog, by mode
	results  []result
	failures []error
}

// halfMax is half the lower of the measured maxima of (a) and (b), or of
// every mode's when neither ran.
func (rep *report) halfMax() int {
	lo := 0.0
	_, a := rep.maxima["local"]
	_, b := rep.maxima["franz"]
	for m, v := range rep.maxima {
		if (a || b) && m != "local" && m != "franz" {
			continue
		}
		if lo == 0 || v < lo {
			lo = v
		}
	}
	return max(1, int(lo/2))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/1e6) }

func (rep *report) knobs() string {
	var ks []string
	if rep.o.commitInterval > 0 {
		ks = append(ks, fmt.Sprintf("commit_interval_ms: %d", rep.o.commitInterval.Milliseconds()))
	}
	if rep.o.linger != "" {
		ks = append(ks, "sink linger.ms: "+rep.o.linger)
	}
	if len(ks) == 0 {
		return "the runner's defaults"
	}
	return strings.Join(ks, ", ")
}

func (rep *report) print(w io.Writer) {
	o := rep.o
	fmt.Fprintf(w, "\n## Seed pipeline latency\n\n")
	fmt.Fprintf(w, "Command: `go run ./bench/cmd/latency %s`  \n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(w, "Input: JSON messages of ~200 B with the produce time in \"ts\", keyed, %d partitions, half kept, "+
		"produced without linger at a steady rate for %v (warm-up, not measured) + %v; delay = arrival at a tail consumer "+
		"minus produce time. (a) with %s; (b) with producer linger %v. %d CPUs; load average (1 min) at the end: %.2f.\n\n",
		partitions, o.warmup, o.duration, rep.knobs(), o.loopLinger, runtime.NumCPU(), harness.LoadAvg())
	if len(rep.maxima) > 0 {
		var parts []string
		for _, m := range o.modes {
			if v, ok := rep.maxima[m]; ok {
				parts = append(parts, fmt.Sprintf("%s %.0f msg/s", m, v))
			}
		}
		fmt.Fprintf(w, "Maximum on a backlog of %d records (first output to last, one run each): %s; half the lower of (a) and (b): %d msg/s.\n\n",
			o.maxN, strings.Join(parts, ", "), rep.halfMax())
	}

	fmt.Fprintln(w, "### Every run")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| rate msg/s | run | pipeline | achieved msg/s | ready s | p50 ms | p99 ms | p99.9 ms | max ms | measured | missing | repeats | pipeline cores | load 1m |")
	fmt.Fprintln(w, "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rep.results {
		fmt.Fprintf(w, "| %d | %d | %s | %.0f | %.2f | %s | %s | %s | %s | %d | %d | %d | %.2f | %.2f |\n",
			r.rate, r.run, modes.Label(r.mode), r.achieved, r.ready.Seconds(), ms(r.quantile(0.5)), ms(r.quantile(0.99)),
			ms(r.quantile(0.999)), ms(r.quantile(1)), len(r.delays), r.missing(), r.dups, r.cores, r.load)
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "### Medians over %d run(s)\n\n", o.runs)
	fmt.Fprintln(w, "| rate msg/s | pipeline | runs | p50 ms | p99 ms | p99.9 ms | max ms | missing (max) | pipeline cores | ready s | load 1m |")
	fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	type key struct {
		rate int
		mode string
	}
	med := make(map[key][3]float64)
	var rates []int
	for _, r := range rep.results {
		if !slices.Contains(rates, r.rate) {
			rates = append(rates, r.rate)
		}
	}
	for _, rate := range rates {
		for _, m := range o.modes {
			var rs []result
			for _, r := range rep.results {
				if r.rate == rate && r.mode == m {
					rs = append(rs, r)
				}
			}
			if len(rs) == 0 {
				continue
			}
			col := func(f func(result) float64) float64 {
				xs := make([]float64, len(rs))
				for i, r := range rs {
					xs[i] = f(r)
				}
				return harness.Median(xs)
			}
			q := func(p float64) float64 { return col(func(r result) float64 { return float64(r.quantile(p)) / 1e6 }) }
			missing := 0
			for _, r := range rs {
				missing = max(missing, r.missing())
			}
			p50, p99, p999 := q(0.5), q(0.99), q(0.999)
			med[key{rate, m}] = [3]float64{p50, p99, p999}
			fmt.Fprintf(w, "| %d | %s | %d | %.2f | %.2f | %.2f | %.2f | %d | %.2f | %.2f | %.2f |\n", rate, modes.Label(m), len(rs),
				p50, p99, p999, q(1), missing, col(func(r result) float64 { return r.cores }),
				col(func(r result) float64 { return r.ready.Seconds() }), col(func(r result) float64 { return r.load }))
		}
	}
	if slices.Contains(o.modes, "local") && slices.Contains(o.modes, "franz") {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| rate msg/s | a/b p50 | a/b p99 | a/b p99.9 |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|")
		for _, rate := range rates {
			a, okA := med[key{rate, "local"}]
			b, okB := med[key{rate, "franz"}]
			if !okA || !okB || b[0] == 0 || b[1] == 0 || b[2] == 0 {
				continue
			}
			fmt.Fprintf(w, "| %d | %.2f | %.2f | %.2f |\n", rate, a[0]/b[0], a[1]/b[1], a[2]/b[2])
		}
	}
	for _, err := range rep.failures {
		fmt.Fprintf(w, "\nFAILED: %v\n", err)
	}
}
