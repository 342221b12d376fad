package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/window"
	"github.com/streams-dev/streams/io/kafka"
)

// report collects the runs and prints the tables.
type report struct {
	o           options
	backlog     *input
	backlogRuns []backlogResult
	liveRuns    []liveResult
	failures    []error
}

// skew is the DSL pipelines' watermark MaxSkew.
func (rep *report) skew() time.Duration { return rep.o.watermarkSkew() }

func (rep *report) failed(env *harness.Env, err error) {
	rep.failures = append(rep.failures, err)
	env.Logf("FAILED: %v", err)
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// medianOf is the median of f over rs.
func medianOf[T any](rs []T, f func(T) float64) float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	return harness.Median(xs)
}

// byMode returns the runs of each mode, in the order of modes.
func byMode[T any](rs []T, modeOf func(T) string) [][]T {
	var out [][]T
	for _, m := range modes {
		var these []T
		for _, r := range rs {
			if modeOf(r) == m.Key {
				these = append(these, r)
			}
		}
		if len(these) > 0 {
			out = append(out, these)
		}
	}
	return out
}

func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "\n## Stateful benchmark: count and sum per key in 10 s tumbling windows\n\n")
	fmt.Fprintf(w, "Command: `go run ./bench/cmd/windowed %s`  \n", strings.Join(os.Args[1:], " "))
	fmt.Fprintf(w, "Events: JSON of ~%d B, %d keys, %d partitions (key k<i> to partition i %% %d); standalone dev broker with -data-dir; %d CPUs. "+
		"Load average (1 min) at the end: %.2f. Source watermark (bundled runner and prism): newest record timestamp minus MaxSkew %v, "+
		"an idle partition (IdleDelay %v) keeps its time (watermark_max_skew_ms: -skew; watermark_idle_ms, watermark_idle_wall_clock: the defaults). "+
		"The franz-go loop's watermark is the newest timestamp, without skew.\n\n",
		window.ValueSize, window.Keys, partitions, partitions, runtime.NumCPU(), harness.LoadAvg(), rep.skew(), kafka.DefaultIdleDelay)
	if rep.backlog != nil {
		rep.printBacklog(w)
	}
	if len(rep.liveRuns) > 0 {
		rep.printLive(w)
	}
	for _, f := range rep.failures {
		fmt.Fprintf(w, "- FAILED: %v\n", f)
	}
}

func (rep *report) printBacklog(w io.Writer) {
	o, in := rep.o, rep.backlog
	fmt.Fprintf(w, "### Backlog\n\n")
	fmt.Fprintf(w, "%d events, event time %d/s from %s (%v of event time), then a closing record per partition stamped %s; "+
		"%d results expected; produced at %.0f events/s. ", in.events, backlogRate, backlogBase.Format(time.RFC3339),
		time.Duration(in.events)*time.Second/backlogRate, closingTime.Format("2006"), len(in.want), float64(in.events)/in.took.Seconds())
	if o.n != 1_000_000 {
		fmt.Fprintf(w, "Note: -n %d, not the issue's 1,000,000.", o.n)
	}
	fmt.Fprintf(w, "\n\n")
	fmt.Fprintln(w, "| run | pipeline | events/s | output complete s | 1st result s | input committed | all committed s | pipeline CPU s | broker CPU s | CPU µs/event (pipeline + broker) | peak RSS MB | results present/expected | identical repeats | output check | load 1m |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
	for _, r := range rep.backlogRuns {
		name, rate := modes.Label(r.mode), fmt.Sprintf("%.0f", r.rate(in.events))
		if r.capped {
			name += fmt.Sprintf(" (capped at %v)", r.elapsed.Round(time.Second))
			rate = "-"
		}
		fmt.Fprintf(w, "| %d | %s | %s | %.2f | %.2f | %d | %s | %.2f | %.2f | %.2f + %.2f | %.0f | %d/%d | %d | %s | %.2f |\n",
			r.run, name, rate, r.elapsed.Seconds(), r.first.Seconds(), r.committed, orDash(r.allCommitted.Seconds()), r.cpu, r.brokerCPU,
			r.cpu/float64(in.events)*1e6, r.brokerCPU/float64(in.events)*1e6, mb(r.rssBytes),
			r.out.present, r.out.expected, r.out.dups, r.out.problems(), r.load)
	}
	fmt.Fprintf(w, "\nMedians over %d run(s):\n\n", rep.o.runs)
	fmt.Fprintln(w, "| pipeline | runs | events/s | all committed s | pipeline CPU s | broker CPU s | CPU µs/event (pipeline + broker) | peak RSS MB | identical repeats (max) | notes |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	rates, cpus := make(map[string]float64), make(map[string]float64)
	for _, rs := range byMode(rep.backlogRuns, func(r backlogResult) string { return r.mode }) {
		m := rs[0].mode
		var dups int64
		for _, r := range rs {
			dups = max(dups, r.out.dups)
		}
		rates[m] = medianOf(rs, func(r backlogResult) float64 { return r.rate(in.events) })
		cpus[m] = medianOf(rs, func(r backlogResult) float64 { return r.cpu / float64(in.events) * 1e6 })
		rate := fmt.Sprintf("%.0f", rates[m])
		if rates[m] == 0 {
			rate = "-"
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.2f | %.2f | %.2f + %.2f | %.0f | %d | %s |\n", modes.Label(m), len(rs), rate,
			orDash(medianOf(rs, func(r backlogResult) float64 { return r.allCommitted.Seconds() })),
			medianOf(rs, func(r backlogResult) float64 { return r.cpu }),
			medianOf(rs, func(r backlogResult) float64 { return r.brokerCPU }), cpus[m],
			medianOf(rs, func(r backlogResult) float64 { return r.brokerCPU / float64(in.events) * 1e6 }),
			medianOf(rs, func(r backlogResult) float64 { return mb(r.rssBytes) }), dups, strings.Join(backlogNotes(rs, in), "; "))
	}
	fmt.Fprintln(w)
	printBacklogRatios(w, rates, cpus)
	fmt.Fprintln(w, "\nevents/s is the events over the time from the process start until its output topic held every expected result; "+
		"CPU is the pipeline process (with descendants) and the broker up to that moment. "+
		"Input committed is what the group had committed then: the bundled runner commits a record only once its window has fired, "+
		"and a closing record only when its partition moved to another process with its state (a2). All committed is when the group had committed every event of every partition "+
		"(-: not within "+commitGrace.String()+" after the output was complete; a median is - when most runs are); the run ends then. "+
		"(a2) is "+fmt.Sprint(groupProcesses)+" processes in one group: its CPU is theirs added up, its peak RSS the sum of their peaks.")
	fmt.Fprintln(w)
}

// orDash formats seconds, or "-" for 0 (never).
func orDash(secs float64) string {
	if secs == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", secs)
}

// backlogNotes are the notes of one mode's backlog runs rs.
func backlogNotes(rs []backlogResult, in *input) []string {
	var notes []string
	for _, r := range rs {
		if r.capped {
			notes = append(notes, fmt.Sprintf("run %d capped at %v: %d of %d results, %d of %d events committed",
				r.run, r.elapsed.Round(time.Second), r.out.present, r.out.expected, r.committed, in.events+partitions))
		} else if r.allCommitted == 0 {
			notes = append(notes, fmt.Sprintf("run %d: %s", r.run, r.commits(in)))
		}
		if p := r.out.problems(); p != "ok" {
			notes = append(notes, fmt.Sprintf("run %d output: %s", r.run, p))
		}
		if r.stopErr != nil {
			notes = append(notes, fmt.Sprintf("run %d stop: %v", r.run, r.stopErr))
		}
	}
	return notes
}

// printBacklogRatios prints the goals and the ratios of the median rates
// and CPU per event (pipeline) of the modes run.
func printBacklogRatios(w io.Writer, rates, cpus map[string]float64) {
	a, ok := rates["local"]
	if !ok || a == 0 {
		return
	}
	fmt.Fprintf(w, "- (a) events/s: %.0f, goal >= 100,000: **%s**\n", a, yesNo(a >= 100_000))
	if before := rates["local-before"]; before > 0 {
		fmt.Fprintf(w, "- a/a-before throughput: **%.2f**, goal >= 0.9 (at most 10%% lost): **%s**; "+
			"CPU µs/event (pipeline) %.2f / %.2f: %.2f\n", a/before, yesNo(a/before >= 0.9),
			cpus["local"], cpus["local-before"], cpus["local"]/cpus["local-before"])
	}
	if a2 := rates["local2"]; a2 > 0 {
		fmt.Fprintf(w, "- a2/a throughput: %.2f; CPU µs/event (pipeline) %.2f / %.2f: %.2f\n",
			a2/a, cpus["local2"], cpus["local"], cpus["local2"]/cpus["local"])
	}
	if x := rates["local-eos"]; x > 0 {
		fmt.Fprintf(w, "- (a+x)/a throughput, exactly-once against at-least-once: **%.2f**, goal >= 0.9: **%s**; "+
			"CPU µs/event (pipeline) %.2f / %.2f: %.2f\n", x/a, yesNo(x/a >= 0.9),
			cpus["local-eos"], cpus["local"], cpus["local-eos"]/cpus["local"])
	}
	if b := rates["franz"]; b > 0 {
		fmt.Fprintf(w, "- a/b throughput: **%.2f**, goal >= 0.5: **%s**\n", a/b, yesNo(a/b >= 0.5))
	}
	if c := rates["prism"]; c > 0 {
		fmt.Fprintf(w, "- a/c throughput: %.2f\n", a/c)
	}
}

func (rep *report) printLive(w io.Writer) {
	o := rep.o
	fmt.Fprintf(w, "### Live: result delay\n\n")
	fmt.Fprintf(w, "%d events/s for %v per run, stamped with the wall clock, into a new topic once the pipeline reads it. "+
		"Delay: arrival of a result at a consumer of the output topic minus its window's end; over the windows that ended "+
		"at least the watermark's skew before the production stopped (MaxSkew for the DSL pipelines, none for the loop): "+
		"the later ones wait for more records.\n\n",
		o.liveRate, o.liveDuration)
	fmt.Fprintln(w, "| run | pipeline | events (per s) | results present/expected | delay p50 s | p99 s | max s | pipeline CPU cores | broker CPU cores | peak RSS MB | output check | load 1m |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
	for _, r := range rep.liveRuns {
		check := r.out.liveProblems()
		if r.incomplete {
			check += fmt.Sprintf(" (stopped %v after the production)", o.liveGrace)
		}
		fmt.Fprintf(w, "| %d | %s | %d (%.0f) | %d/%d | %s | %s | %s | %.2f | %.2f | %.0f | %s | %.2f |\n",
			r.run, modes.Label(r.mode), r.produced, r.rate, r.out.present, r.out.expected,
			secs(r.out.quantile(0.5)), secs(r.out.quantile(0.99)), secs(r.out.quantile(1)),
			r.cores, r.brokerCores, mb(r.rssBytes), check, r.load)
	}
	fmt.Fprintf(w, "\nMedians over %d run(s):\n\n", o.runs)
	fmt.Fprintln(w, "| pipeline | runs | delay p50 s | p99 s | max s | pipeline CPU cores | broker CPU cores | peak RSS MB | notes |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---|")
	p50, p99 := make(map[string]float64), make(map[string]float64)
	for _, rs := range byMode(rep.liveRuns, func(r liveResult) string { return r.mode }) {
		m := rs[0].mode
		var notes []string
		for _, r := range rs {
			if p := r.out.liveProblems(); p != "ok" {
				notes = append(notes, fmt.Sprintf("run %d output: %s", r.run, p))
			}
			if r.stopErr != nil {
				notes = append(notes, fmt.Sprintf("run %d stop: %v", r.run, r.stopErr))
			}
		}
		q := func(x float64) float64 {
			return medianOf(rs, func(r liveResult) float64 { return r.out.quantile(x).Seconds() })
		}
		p50[m], p99[m] = q(0.5), q(0.99)
		fmt.Fprintf(w, "| %s | %d | %.3f | %.3f | %.3f | %.2f | %.2f | %.0f | %s |\n", modes.Label(m), len(rs), p50[m], p99[m], q(1),
			medianOf(rs, func(r liveResult) float64 { return r.cores }),
			medianOf(rs, func(r liveResult) float64 { return r.brokerCores }),
			medianOf(rs, func(r liveResult) float64 { return mb(r.rssBytes) }), strings.Join(notes, "; "))
	}
	fmt.Fprintln(w)
	if a, ok := p99["local"]; ok {
		fmt.Fprintf(w, "- (a) p99 delay: %.3f s, goal < 1 s: **%s** (MaxSkew alone puts the watermark %v behind the newest record)\n",
			a, yesNo(a < 1), rep.skew())
		skew := rep.skew().Seconds()
		fmt.Fprintf(w, "- (a) minus MaxSkew, the time from the watermark passing a window's end to its results' arrival: p50 %.3f s, p99 %.3f s\n",
			p50["local"]-skew, a-skew)
	}
	if x, ok := p99["local-eos"]; ok {
		fmt.Fprintf(w, "- (a+x) exactly-once p99 delay: %.3f s (p50 %.3f s), read with read_committed: a result arrives when its transaction commits\n", x, p50["local-eos"])
	}
	fmt.Fprintln(w)
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
