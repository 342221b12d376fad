package harness

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Setup says what [Start] prepares.
type Setup struct {
	// Packages are built into the environment's bin directory, as
	// `go build` names them (./cmd/streams is always built: it runs the
	// broker).
	Packages []string
	// Prebuilt are programs built elsewhere (at another commit, say): each
	// file is copied into the bin directory under its name (the map key),
	// so that [Env.StartProgram] and [Env.StartPipeline] run it like a
	// built one. A name may not be that of a built package.
	Prebuilt map[string]string
	// Tagged are packages built again with build tags, each under its
	// name (the map key), after Packages: the same program with a part
	// left out, say, measured side by side with it.
	Tagged map[string]TaggedBuild
	// Partitions is the broker's default partition count.
	Partitions int32
	// Keep keeps the temporary directory (logs, broker data) at Close.
	Keep bool
	// Log receives the build's output and Logf's lines.
	Log io.Writer
}

// TaggedBuild is a package built with build tags (see [Setup.Tagged]).
type TaggedBuild struct {
	Package string
	Tags    []string
}

// Env is one benchmark's environment: a temporary directory with the
// built programs, a standalone development broker (`streams broker
// -data-dir`, so that its CPU is measured apart from the pipelines'), and
// clients of that broker.
type Env struct {
	Dir     string // the temporary directory
	Broker  *Process
	Brokers []string // the broker's address
	Client  *kgo.Client
	Admin   *kadm.Client

	bins string
	keep bool
	log  io.Writer
}

// Start builds s.Packages, starts the broker and connects to it. Close
// undoes it all, however far it got.
func Start(ctx context.Context, s Setup) (_ *Env, err error) {
	dir, err := os.MkdirTemp("", "streams-bench-")
	if err != nil {
		return nil, err
	}
	e := &Env{Dir: dir, bins: filepath.Join(dir, "bin"), keep: s.Keep, log: s.Log}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()

	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	pkgs := s.Packages
	if !slices.Contains(pkgs, "./cmd/streams") {
		pkgs = append([]string{"./cmd/streams"}, pkgs...)
	}
	e.Logf("building %s", strings.Join(pkgs, ", "))
	build := exec.CommandContext(ctx, "go", append([]string{"build", "-o", e.bins + "/"}, pkgs...)...)
	build.Dir = root
	build.Stdout, build.Stderr = s.Log, s.Log
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("go build: %w", err)
	}
	if err := e.buildTagged(ctx, root, pkgs, s.Tagged); err != nil {
		return nil, err
	}
	if err := e.copyPrebuilt(pkgs, s.Prebuilt); err != nil {
		return nil, err
	}

	addr, err := e.startBroker(ctx, s.Partitions)
	if err != nil {
		return nil, err
	}
	e.Logf("broker pid %d at %s, data in %s", e.Broker.PID(), addr, filepath.Join(dir, "broker-data"))
	e.Brokers = []string{addr}
	if e.Client, err = kgo.NewClient(kgo.SeedBrokers(addr)); err != nil {
		return nil, err
	}
	e.Admin = kadm.NewClient(e.Client)
	return e, nil
}

// buildTagged builds the tagged programs into the bin directory,
// refusing a name that one of the built packages pkgs has.
func (e *Env) buildTagged(ctx context.Context, root string, pkgs []string, tagged map[string]TaggedBuild) error {
	for name, tb := range tagged {
		for _, p := range pkgs {
			if path.Base(p) == name {
				return fmt.Errorf("tagged %s: %s is built under that name", name, p)
			}
		}
		tags := strings.Join(tb.Tags, ",")
		e.Logf("building %s with -tags %s as %s", tb.Package, tags, name)
		build := exec.CommandContext(ctx, "go", "build", "-tags", tags, "-o", e.Bin(name), tb.Package)
		build.Dir = root
		build.Stdout, build.Stderr = e.log, e.log
		if err := build.Run(); err != nil {
			return fmt.Errorf("go build -tags %s %s: %w", tags, tb.Package, err)
		}
	}
	return nil
}

// copyPrebuilt copies the prebuilt programs into the bin directory,
// refusing a name that one of the built packages pkgs has.
func (e *Env) copyPrebuilt(pkgs []string, prebuilt map[string]string) error {
	for name, src := range prebuilt {
		for _, p := range pkgs {
			if path.Base(p) == name {
				return fmt.Errorf("prebuilt %s: %s is built under that name", name, p)
			}
		}
		if err := copyFile(e.Bin(name), src); err != nil {
			return fmt.Errorf("prebuilt %s: %w", name, err)
		}
		e.Logf("%s: %s", name, src)
	}
	return nil
}

// copyFile copies the executable src to dst.
func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Bin is the path of the built program name (the last element of its
// package path).
func (e *Env) Bin(name string) string { return filepath.Join(e.bins, name) }

// Logf writes a timestamped line to the log.
func (e *Env) Logf(format string, args ...any) {
	fmt.Fprintf(e.log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// Close stops the broker, kills any other child process still running
// and removes the temporary directory unless Setup.Keep.
func (e *Env) Close() {
	if e.Client != nil {
		e.Client.Close()
	}
	if e.Broker != nil {
		_ = e.Broker.Terminate(10 * time.Second)
	}
	KillAll() // before removing the broker's data directory
	if e.keep {
		e.Logf("kept %s", e.Dir)
		return
	}
	os.RemoveAll(e.Dir)
}

// StartMeter notes the broker's CPU time, to be compared at [Meter.Read].
func (e *Env) StartMeter() (Meter, error) {
	cpu, err := CPUSeconds(e.Broker.PID())
	if err != nil {
		return Meter{}, fmt.Errorf("broker cpu: %w", err)
	}
	return Meter{broker: e.Broker, brokerCPU0: cpu}, nil
}

// Meter measures a pipeline's CPU time and the broker's over the same
// span.
type Meter struct {
	broker     *Process
	brokerCPU0 float64
}

// Read returns the CPU seconds of ps (one pipeline's processes) with
// their descendants, added up, and of the broker since StartMeter, and
// samples the peak RSS of each of ps.
func (m Meter) Read(ps ...*Process) (cpu, brokerCPU float64, err error) {
	pids := make([]int, len(ps))
	for i, p := range ps {
		pids[i] = p.PID()
	}
	if cpu, err = TreeCPUSeconds(pids...); err != nil {
		return 0, 0, fmt.Errorf("pipeline cpu: %w", err)
	}
	b, err := CPUSeconds(m.broker.PID())
	if err != nil {
		return 0, 0, fmt.Errorf("broker cpu: %w", err)
	}
	for _, p := range ps {
		p.NoteRSS()
	}
	return cpu, b - m.brokerCPU0, nil
}

// StartProgram starts the built program name with args, logging to
// <tag>.log in the temporary directory.
func (e *Env) StartProgram(tag, name string, args ...string) (*Process, error) {
	e.Logf("%s: starting %s", tag, name)
	return StartProcess(tag, filepath.Join(e.Dir, tag+".log"), e.Bin(name), args...)
}

// StartPipeline writes the deployment config c to <tag>.yaml and starts
// the built program name, a DSL pipeline run by runner.Main, on it with
// the adapter ("local": the bundled runner, "beam": prism).
func (e *Env) StartPipeline(tag, name, adapter string, c PipelineConfig) (*Process, error) {
	cfg := filepath.Join(e.Dir, tag+".yaml")
	if err := c.Write(cfg); err != nil {
		return nil, err
	}
	// Every benchmark run of a DSL pipeline has these arguments; a
	// stateful pipeline on the bundled runner keeps its durable state in a
	// directory of the run's own.
	state := filepath.Join(e.Dir, tag+"-state")
	if c.MemoryState {
		state = "none"
	}
	args := []string{"-n", "bench-" + tag, "--config", cfg, "--adapter", adapter, "--log-level", "warn", "--state-dir", state}
	// $STREAMS_BENCH_PROFILE_DIR: each pipeline run writes a CPU profile
	// there, <tag>.pprof, and an allocation profile, <tag>.allocs.
	if dir := os.Getenv("STREAMS_BENCH_PROFILE_DIR"); dir != "" {
		args = append(args, "--cpuprofile", filepath.Join(dir, tag+".pprof"), "--memprofile", filepath.Join(dir, tag+".allocs"))
	}
	return e.StartProgram(tag, name, args...)
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
// and returns its address once it listens.
func (e *Env) startBroker(ctx context.Context, partitions int32) (string, error) {
	logPath := filepath.Join(e.Dir, "broker.log")
	p, err := StartProcess("broker", logPath, e.Bin("streams"), "broker", "-port", "0",
		"-data-dir", filepath.Join(e.Dir, "broker-data"), "-topics", "", "-partitions", fmt.Sprint(partitions), "-log-level", "warn")
	if err != nil {
		return "", err
	}
	e.Broker = p
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if addr := listenAddr(logPath); addr != "" {
			return addr, nil
		}
		if p.Exited() {
			return "", fmt.Errorf("broker exited: %v\n%s", p.WaitErr, p.LogTail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("broker did not report its address within 30s\n%s", p.LogTail(20))
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

// Median is the median of xs, 0 for none.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Rotate returns xs rotated left by r, so that in run r of a benchmark
// no pipeline always goes first.
func Rotate[T any](xs []T, r int) []T {
	if len(xs) == 0 {
		return nil
	}
	r %= len(xs)
	return append(slices.Clone(xs[r:]), xs[:r]...)
}

// PipelineConfig is the deployment config of a benchmark's DSL pipeline:
// its source step reads Input from the start with the consumer group
// Group, its sink step writes Output.
type PipelineConfig struct {
	Brokers          []string
	SourceStep       string
	Input, Group     string
	SinkStep, Output string
	Metrics          bool // metrics: {type: prometheus} on a free port
	// WatermarkSkew, when > 0, is the source's watermark_max_skew_ms.
	WatermarkSkew time.Duration
	// MemoryState keeps a stateful pipeline's state in memory on the
	// bundled runner (--state-dir none) instead of a durable directory.
	MemoryState bool
	// ExactlyOnce sets the source's processing_guarantee: exactly_once.
	ExactlyOnce bool
	// CommitInterval and CommitRecords, when > 0, are the source's
	// commit_interval_ms and commit_records.
	CommitInterval time.Duration
	CommitRecords  int
	// Parallelism, when > 0, is the source's parallelism: on the bundled
	// runner, the most bundles in flight.
	Parallelism int
	// SinkParams are the sink's override_params (client properties such
	// as linger.ms).
	SinkParams map[string]string
}

// Write writes the config, as YAML, to path.
func (c PipelineConfig) Write(path string) error {
	bs := `["` + strings.Join(c.Brokers, `", "`) + `"]`
	m := ""
	if c.Metrics {
		m = "metrics: {type: prometheus, address: \"127.0.0.1:0\"}\n"
	}
	skew := ""
	if c.WatermarkSkew > 0 {
		skew = fmt.Sprintf("\n          watermark_max_skew_ms: %d", c.WatermarkSkew.Milliseconds())
	}
	if c.ExactlyOnce {
		skew += "\n          processing_guarantee: exactly_once"
	}
	if c.CommitInterval > 0 {
		skew += fmt.Sprintf("\n          commit_interval_ms: %d", c.CommitInterval.Milliseconds())
	}
	if c.Parallelism > 0 {
		skew += fmt.Sprintf("\n          parallelism: %d", c.Parallelism)
	}
	if c.CommitRecords > 0 {
		skew += fmt.Sprintf("\n          commit_records: %d", c.CommitRecords)
	}
	sink := ""
	if len(c.SinkParams) > 0 {
		keys := slices.Sorted(maps.Keys(c.SinkParams))
		sink = "\n          override_params:"
		for _, k := range keys {
			sink += fmt.Sprintf("\n            %s: %q", k, c.SinkParams[k])
		}
	}
	yaml := fmt.Sprintf(`env: {}
%spipeline:
  segments:
    - steps_config:
        %s:
          starts_segment: true
          bootstrap_servers: %s
          topic: %s
          consumer_group: %s
          auto_offset_reset: earliest%s
        %s:
          bootstrap_servers: %s
          topic: %s%s
`, m, c.SourceStep, bs, c.Input, c.Group, skew, c.SinkStep, bs, c.Output, sink)
	return os.WriteFile(path, []byte(yaml), 0o644)
}
