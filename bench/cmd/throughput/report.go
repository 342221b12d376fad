package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/streams-dev/streams/bench/internal/harness"
)

// outputNote compares a run's output count with the expected one.
func outputNote(r result) (out, dups string) {
	switch {
	case r.expected < 0:
		return fmt.Sprintf("%d (partial)", r.output), "n/a"
	case r.output == r.expected:
		return fmt.Sprintf("%d = %d", r.output, r.expected), "0"
	case r.output > r.expected:
		return fmt.Sprintf("%d > %d", r.output, r.expected), fmt.Sprint(r.output - r.expected)
	default:
		return fmt.Sprintf("**%d < %d: %d MISSING**", r.output, r.expected, r.expected-r.output), "-"
	}
}

func printReport(w io.Writer, o options, produce time.Duration, results []result, failures []error) {
	fmt.Fprintf(w, "\n## Seed pipeline throughput\n\n")
	fmt.Fprintf(w, "Command: `go run ./bench/cmd/throughput %s`  \n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(w, "Input: %d JSON messages of ~200 B, keyed, %d partitions, half kept; standalone dev broker with -data-dir; "+
		"%d CPUs; input produced at %.0f msg/s. Load average (1 min) at the end: %.2f.\n\n",
		o.n, partitions, runtime.NumCPU(), float64(o.n)/produce.Seconds(), harness.LoadAvg())
	if o.n != 1_000_000 {
		fmt.Fprintf(w, "Note: -n %d, not the issue's 1,000,000.\n\n", o.n)
	}

	fmt.Fprintln(w, "### Every run")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | pipeline | msg/s | wall s | 1st commit s | output complete s (msg/s) | committed | pipeline CPU s | broker CPU s | CPU µs/msg (pipeline + broker) | peak RSS MB | output vs expected | duplicates | load 1m |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
	for _, r := range results {
		out, dups := outputNote(r)
		perMsg := "n/a"
		if r.committed > 0 {
			perMsg = fmt.Sprintf("%.2f + %.2f", r.cpu/float64(r.committed)*1e6, r.brokerCPU/float64(r.committed)*1e6)
		}
		name := modes.Label(r.mode)
		if r.capped {
			name += fmt.Sprintf(" (capped at %v)", r.wall.Round(time.Second))
		}
		outDone := "-"
		if r.outDone > 0 {
			outDone = fmt.Sprintf("%.2f (%.0f)", r.outDone.Seconds(), r.outRate())
		}
		fmt.Fprintf(w, "| %d | %s | %.0f | %.2f | %.2f | %s | %d | %.2f | %.2f | %s | %.0f | %s | %s | %.2f |\n",
			r.run, name, r.rate(), r.wall.Seconds(), r.first.Seconds(), outDone, r.committed, r.cpu, r.brokerCPU,
			perMsg, float64(r.rssBytes)/(1<<20), out, dups, r.load)
	}

	fmt.Fprintln(w)
	fmt.Fprintf(w, "### Medians over %d run(s)\n\n", o.runs)
	fmt.Fprintln(w, "| pipeline | runs | msg/s | msg/s to output complete | pipeline CPU s | broker CPU s | CPU µs/msg (pipeline + broker) | peak RSS MB | duplicates (max) | notes |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	rates := make(map[string]float64)
	outRates := make(map[string]float64)
	capped := make(map[string]bool)
	for _, m := range modes {
		var rs []result
		for _, r := range results {
			if r.mode == m.Key {
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
		var dups int64
		var notes []string
		for _, r := range rs {
			if r.expected >= 0 {
				dups = max(dups, r.output-r.expected)
				if r.output < r.expected {
					notes = append(notes, fmt.Sprintf("run %d MISSING %d", r.run, r.expected-r.output))
				}
			}
			if r.capped {
				capped[m.Key] = true
				notes = append(notes, fmt.Sprintf("run %d capped at %v: %d of %d committed", r.run, r.wall.Round(time.Second), r.committed, o.n))
			}
			if r.stopErr != nil {
				notes = append(notes, fmt.Sprintf("run %d stop: %v", r.run, r.stopErr))
			}
		}
		rate := col(result.rate)
		rates[m.Key] = rate
		outRates[m.Key] = col(result.outRate)
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %.2f | %.2f | %.2f + %.2f | %.0f | %d | %s |\n", m.Label, len(rs), rate, outRates[m.Key],
			col(func(r result) float64 { return r.cpu }), col(func(r result) float64 { return r.brokerCPU }),
			col(func(r result) float64 { return r.cpu / float64(max(r.committed, 1)) * 1e6 }),
			col(func(r result) float64 { return r.brokerCPU / float64(max(r.committed, 1)) * 1e6 }),
			col(func(r result) float64 { return float64(r.rssBytes) / (1 << 20) }), dups, strings.Join(notes, "; "))
	}
	fmt.Fprintln(w)
	letter := map[string]string{"local": "a", "local-metrics": "a+m", "local-eos": "a+x", "franz": "b", "prism": "c", "local-alt": "a'", "local-nobm": "a-bm"}
	ratio := func(a, b string) {
		ra, okA := rates[a]
		rb, okB := rates[b]
		if !okA || !okB {
			return
		}
		switch {
		case rb == 0:
			fmt.Fprintf(w, "- %s/%s throughput: ∞ (%s committed nothing)\n", letter[a], letter[b], modes.Label(b))
		default:
			note := ""
			if capped[b] {
				note = fmt.Sprintf(" (%s was capped: its rate is what it committed within the cap, startup included)", letter[b])
			}
			fmt.Fprintf(w, "- %s/%s throughput: **%.2f**%s\n", letter[a], letter[b], ra/rb, note)
		}
	}
	ratio("local", "franz")
	ratio("local", "prism")
	ratio("local-metrics", "local")
	ratio("local-eos", "local")
	ratio("local", "local-alt")
	beamMetricsCost(w, results)
	for _, pair := range [][2]string{{"local", "franz"}, {"local", "prism"}, {"local-eos", "local"}, {"local", "local-alt"}} {
		a, b := outRates[pair[0]], outRates[pair[1]]
		if a > 0 && b > 0 {
			fmt.Fprintf(w, "- %s/%s to output complete (without the wait for the next commit): %.2f\n", letter[pair[0]], letter[pair[1]], a/b)
		}
	}
	fmt.Fprintln(w, "\nmsg/s is input messages over the time from process start until the group had committed them all; "+
		"commits come at most once a second, so short runs are quantised by up to a second. "+
		"CPU is the pipeline process (with descendants) and the broker, up to that moment.")
	for _, f := range failures {
		fmt.Fprintf(w, "- FAILED: %v\n", f)
	}
}

// beamMetricsCost reports issue 20's check: the seed pipeline on the
// bundled runner with the steps' Beam counters (a) against without them
// (a-bm), in the same run: the median over runs of a's rate over a-bm's
// in the same round, and of their CPU per message; at most 3% slower is
// the goal (a/a-bm >= 0.97).
func beamMetricsCost(w io.Writer, results []result) {
	byRun := map[int]map[string]result{}
	for _, r := range results {
		if byRun[r.run] == nil {
			byRun[r.run] = map[string]result{}
		}
		byRun[r.run][r.mode] = r
	}
	var rates, cpus []float64
	for _, rs := range byRun {
		a, okA := rs["local"]
		b, okB := rs["local-nobm"]
		if !okA || !okB || a.rate() == 0 || b.rate() == 0 || a.committed == 0 || b.committed == 0 {
			continue
		}
		rates = append(rates, a.rate()/b.rate())
		cpus = append(cpus, (a.cpu/float64(a.committed))/(b.cpu/float64(b.committed)))
	}
	if len(rates) == 0 {
		return
	}
	verdict := "within"
	if harness.Median(rates) < 0.97 {
		verdict = "NOT within"
	}
	fmt.Fprintf(w, "- a/a-bm throughput, median of %d same-round ratios: **%.3f** (%s the 3%% that issue 20 allows: the Beam-metric counters' cost); CPU per message a/a-bm: %.3f\n",
		len(rates), harness.Median(rates), verdict, harness.Median(cpus))
}
