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
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/bench/internal/seed"
)

const partitions = 4

// A mode is one way of running the seed pipeline.
type mode struct {
	key   string // flag value
	label string // table label
}

var modes = []mode{
	{"local", "(a) runner --adapter local"},
	{"local-metrics", "(a+m) (a) with metrics: {type: prometheus}"},
	{"franz", "(b) hand-written franz-go"},
	{"prism", "(c) runner --adapter beam (prism)"},
}

type options struct {
	n         int
	runs      int
	modes     []string
	timeout   time.Duration
	prismCap  time.Duration
	keep      bool
	logOutput io.Writer
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
	flag.StringVar(&modeList, "modes", "local,local-metrics,franz,prism", "pipelines to run: local (a), local-metrics (a+m), franz (b), prism (c)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up on a local or franz run that has not committed the input after this long")
	flag.DurationVar(&o.prismCap, "prism-cap", 2*time.Minute, "stop a prism run after this long and report the rate of what it committed")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (logs, broker data)")
	flag.Parse()
	for m := range strings.SplitSeq(modeList, ",") {
		if m = strings.TrimSpace(m); m == "" {
			continue
		}
		if !slices.ContainsFunc(modes, func(x mode) bool { return x.key == m }) {
			fmt.Fprintf(os.Stderr, "throughput: -modes: unknown %q (want local, local-metrics, franz, prism)\n", m)
			os.Exit(2)
		}
		o.modes = append(o.modes, m)
	}
	if o.n < 1 || o.runs < 1 || len(o.modes) == 0 {
		fmt.Fprintln(os.Stderr, "throughput: want -n >= 1, -runs >= 1 and at least one mode")
		os.Exit(2)
	}
	o.logOutput = os.Stderr

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	live.killAll()
	if err != nil {
		fmt.Fprintln(os.Stderr, "throughput:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (err error) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(o.logOutput, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	dir, err := os.MkdirTemp("", "streams-bench-")
	if err != nil {
		return err
	}
	defer func() {
		live.killAll() // before removing the broker's data directory
		if o.keep {
			logf("kept %s", dir)
			return
		}
		os.RemoveAll(dir)
	}()

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	logf("building cmd/streams, bench/cmd/seedpipeline, bench/cmd/franzloop")
	bins := filepath.Join(dir, "bin")
	build := exec.CommandContext(ctx, "go", "build", "-o", bins+"/",
		"./cmd/streams", "./bench/cmd/seedpipeline", "./bench/cmd/franzloop")
	build.Dir = root
	build.Stdout, build.Stderr = o.logOutput, o.logOutput
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}

	broker, addr, err := startBroker(ctx, dir, filepath.Join(bins, "streams"))
	if err != nil {
		return err
	}
	defer broker.terminate(10 * time.Second)
	logf("broker pid %d at %s, data in %s", broker.pid(), addr, filepath.Join(dir, "broker-data"))
	brokers := []string{addr}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := createTopic(ctx, adm, seed.InputTopic, partitions); err != nil {
		return err
	}
	logf("producing %d messages of ~%d bytes to %s (%d partitions)", o.n, seed.ValueSize, seed.InputTopic, partitions)
	took, err := produceInput(ctx, brokers, seed.InputTopic, o.n)
	if err != nil {
		return err
	}
	if got, err := records(ctx, adm, seed.InputTopic); err != nil {
		return err
	} else if got != int64(o.n) {
		return fmt.Errorf("input topic holds %d records, want %d", got, o.n)
	}
	logf("produced in %v (%.0f msg/s)", took.Round(time.Millisecond), float64(o.n)/took.Seconds())

	var results []result
	var failures []error
	for r := range o.runs {
		order := slices.Clone(o.modes)
		for range r % len(order) { // rotate, so no pipeline always goes first
			order = append(order[1:], order[0])
		}
		for _, m := range order {
			if err := ctx.Err(); err != nil {
				return err
			}
			res, err := runOne(ctx, o, m, r, dir, bins, brokers, adm, broker, logf)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				failures = append(failures, fmt.Errorf("%s run %d: %w", m, r+1, err))
				logf("FAILED: %s run %d: %v", m, r+1, err)
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

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run inside the streams module")
	}
	return filepath.Dir(gomod), nil
}

// startBroker runs `streams broker` on a free port with a data directory
// and returns it once it listens.
func startBroker(ctx context.Context, dir, bin string) (*process, string, error) {
	logPath := filepath.Join(dir, "broker.log")
	p, err := startProcess("broker", logPath, bin, "broker", "-port", "0",
		"-data-dir", filepath.Join(dir, "broker-data"), "-topics", "", "-partitions", fmt.Sprint(partitions), "-log-level", "warn")
	if err != nil {
		return nil, "", err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if addr := listenAddr(logPath); addr != "" {
			return p, addr, nil
		}
		if p.exited() {
			return nil, "", fmt.Errorf("broker exited: %v\n%s", p.waitErr, p.logTail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.kill()
	return nil, "", fmt.Errorf("broker did not report its address within 30s\n%s", p.logTail(20))
}

// listenAddr finds "listening on HOST:PORT" in the broker's log.
func listenAddr(logPath string) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, rest, ok := strings.Cut(sc.Text(), "listening on ")
		if !ok {
			continue
		}
		addr, _, _ := strings.Cut(rest, " ")
		if _, _, err := net.SplitHostPort(addr); err == nil {
			return addr
		}
	}
	return ""
}

// runOne runs mode m once and measures it.
func runOne(ctx context.Context, o options, m string, r int, dir, bins string, brokers []string,
	adm *kadm.Client, broker *process, logf func(string, ...any)) (result, error) {
	tag := fmt.Sprintf("%s-%d", m, r+1)
	group, output := "bench-"+tag, "bench-out-"+tag
	if err := createTopic(ctx, adm, output, partitions); err != nil {
		return result{}, err
	}
	logPath := filepath.Join(dir, tag+".log")
	var bin string
	var args []string
	switch m {
	case "franz":
		bin = filepath.Join(bins, "franzloop")
		args = []string{"-brokers", strings.Join(brokers, ","), "-topic", seed.InputTopic,
			"-group", group, "-output", output, "-commit-interval", "1s"}
	default:
		cfg := filepath.Join(dir, tag+".yaml")
		if err := os.WriteFile(cfg, []byte(pipelineConfig(brokers, group, output, m == "local-metrics")), 0o644); err != nil {
			return result{}, err
		}
		adapter := "local"
		if m == "prism" {
			adapter = "beam"
		}
		bin = filepath.Join(bins, "seedpipeline")
		args = []string{"-n", "bench-" + tag, "--config", cfg, "--adapter", adapter, "--log-level", "warn"}
	}
	limit := o.timeout
	if m == "prism" {
		limit = o.prismCap
	}

	res := result{mode: m, run: r + 1, expected: int64(seed.Kept(o.n)), load: loadAvg()}
	brokerCPU0, err := cpuSeconds(broker.pid())
	if err != nil {
		return res, fmt.Errorf("broker cpu: %w", err)
	}
	logf("%s run %d: starting %s", m, r+1, filepath.Base(bin))
	p, err := startProcess(tag, logPath, bin, args...)
	if err != nil {
		return res, err
	}
	defer p.kill()

	// Poll the group's commits until they cover the input.
	want := int64(o.n)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	lastLog := time.Now()
	for {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-p.done:
			return res, fmt.Errorf("pipeline exited before committing the input (%v); last log lines:\n%s", p.waitErr, p.logTail(20))
		case <-tick.C:
		}
		got, err := committed(ctx, adm, group, seed.InputTopic)
		if err != nil {
			return res, err
		}
		elapsed := time.Since(p.start)
		if got > 0 && res.first == 0 {
			res.first = elapsed
		}
		if res.outDone == 0 {
			out, err := records(ctx, adm, output)
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
			logf("%s run %d: %d/%d committed after %v", m, r+1, got, want, elapsed.Round(time.Second))
			lastLog = time.Now()
		}
	}
	// Measure before stopping: the drain after SIGTERM is not part of it.
	if res.cpu, err = treeCPUSeconds(p.pid()); err != nil {
		return res, fmt.Errorf("pipeline cpu: %w", err)
	}
	brokerCPU1, err := cpuSeconds(broker.pid())
	if err != nil {
		return res, fmt.Errorf("broker cpu: %w", err)
	}
	res.brokerCPU = brokerCPU1 - brokerCPU0
	p.noteRSS()
	if res.committed < want {
		res.capped = true
		res.expected = -1
		logf("%s run %d: capped after %v with %d/%d committed", m, r+1, limit, res.committed, want)
		if m != "prism" {
			p.terminate(30 * time.Second)
			return res, fmt.Errorf("timed out after %v: %d of %d input messages committed; last log lines:\n%s",
				limit, res.committed, want, p.logTail(20))
		}
	}
	res.stopErr = p.terminate(30 * time.Second)
	res.rssBytes = p.peakRSS()
	if res.output, err = records(ctx, adm, output); err != nil {
		return res, err
	}
	logf("%s run %d: %.0f msg/s, %d out of %d expected", m, r+1, res.rate(), res.output, res.expected)
	if res.stopErr != nil {
		logf("%s run %d: stop: %v\n%s", m, r+1, res.stopErr, p.logTail(10))
	}
	return res, nil
}

// pipelineConfig is the deployment config of the seed pipeline on the
// benchmark's topics.
func pipelineConfig(brokers []string, group, output string, metrics bool) string {
	bs := `["` + strings.Join(brokers, `", "`) + `"]`
	m := ""
	if metrics {
		m = "metrics: {type: prometheus, address: \"127.0.0.1:0\"}\n"
	}
	return fmt.Sprintf(`env: {}
%spipeline:
  segments:
    - steps_config:
        %s:
          starts_segment: true
          bootstrap_servers: %s
          topic: %s
          consumer_group: %s
          auto_offset_reset: earliest
        %s:
          bootstrap_servers: %s
          topic: %s
`, m, seed.SourceStep, bs, seed.InputTopic, group, seed.SinkStep, bs, output)
}
