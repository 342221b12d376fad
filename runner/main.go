package runner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	// The Beam runners that --runner can name: prism, universal, flink,
	// spark, dataflow, direct, dot.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

// Exit codes of Main.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// Main runs the pipeline p from the command line and exits. It never
// returns. Define the pipeline first (in main or at package level), then
// call Main: a Beam worker process runs the same program with --worker,
// and Main then serves the worker instead of starting a pipeline.
//
// The flags are Sentry Streams' runner's, in their short and long forms
// (-n/--name, -c/--config, -a/--adapter, -s/--segment-id,
// -l/--log-level), and ours (runFlags); -h lists them by group. Beam's
// own flags (--runner, --endpoint, --environment_type, ...), which Beam's
// packages define on flag.CommandLine, are accepted beside them for
// --adapter beam; --help-beam lists those.
//
// `<program> graph [--format dot|mermaid] [-n NAME] [--config FILE]
// [--segment-id N]` instead prints the pipeline's graph (see
// [dsl.Graph.WriteDOT]) and exits without running anything: no broker, no
// Beam. With --config, the source and Kafka sinks show the topics the
// config gives them.
func Main(p dsl.Pipeline) {
	// A SIGTERM or Ctrl-C while the program starts (loading the config,
	// Beam's init, the broker checks: seconds on a loaded machine) must
	// stop it as one that came while it ran does, not kill it: a
	// scale-down right after a restart is routine.
	signal.Notify(startSignals, os.Interrupt, syscall.SIGTERM)
	os.Exit(main(p, flag.CommandLine, os.Args[1:], os.Stdout, os.Stderr))
}

// startSignals holds a stop signal that came before the run's own
// handler was installed (Main).
var startSignals = make(chan os.Signal, 1)

// runContext is the context of a run: cancelled by SIGTERM or Ctrl-C,
// including one that came while the program started.
func runContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(ctx)
	select {
	case <-startSignals:
		cancel()
	default:
	}
	signal.Stop(startSignals)
	return ctx, func() { cancel(); stop() }
}

func main(p dsl.Pipeline, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	// The graph command runs nothing, so it goes before the run's flags
	// and beam.Init; it has flags of its own.
	if len(args) > 0 && args[0] == "graph" {
		return graphMain(p, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "jobs" {
		return jobsMain(args[1:], stdout, stderr)
	}
	f := defineFlags(fs)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %[1]s [flags]; %[1]s -h lists them\n", programName())
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	switch {
	case f.help:
		writeHelp(stdout, fs)
		return ExitOK
	case f.helpBeam:
		writeHelpBeam(stdout, fs)
		return ExitOK
	}
	g, err := p.Build()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	// Workers (Flink, Dataflow) run this same program: the step table must
	// be filled before beam.Init, which serves the worker and exits there.
	beamtranslate.Register(beamtranslate.DefaultID, g)
	if !beam.Initialized() {
		beam.Init()
	}

	logger, level, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "streams:", err)
		return ExitUsage
	}
	// Beam's runners (prism) log through the default logger: show their
	// warnings and errors, not their chatter, and nothing of a clean stop.
	var stopping atomic.Bool
	slog.SetDefault(slog.New(&engineLogHandler{Handler: logger.Handler(), min: max(level, slog.LevelWarn), stopping: &stopping}))

	var problems []string
	seg := 0
	if f.segmentID != "" {
		if seg, err = strconv.Atoi(f.segmentID); err != nil || seg < 0 {
			problems = append(problems, fmt.Sprintf("--segment-id (or SEGMENT_ID) %q: want a non-negative integer", f.segmentID))
		}
	}
	if f.configPath == "" {
		problems = append(problems, "--config FILE is required")
	}
	if len(problems) > 0 {
		fmt.Fprintln(stderr, "streams: "+strings.Join(problems, "\nstreams: "))
		return ExitUsage
	}
	// A config with problems still loads when it is readable YAML; Run
	// validates it against the pipeline and reports its problems and the
	// pipeline's together.
	cfg, err := config.Load(f.configPath, ConfigOption())
	if cfg == nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}

	opts := Options{
		Name:       f.name,
		Config:     cfg,
		SegmentID:  seg,
		Adapter:    f.adapter,
		BeamRunner: beamRunnerFlag(fs),
		Logger:     logger,
		OnStop:     func() { stopping.Store(true) },
		StateDir:   f.stateDir,

		DiscardCorruptState: f.discardCorruptState,
		Detach:              f.detach,
		DevBrokerAddr:       f.devBroker,
	}
	if f.input != "" || f.printOutput || f.exitWhenDone {
		opts.Dev = &DevOptions{ExitWhenDone: f.exitWhenDone}
		if f.printOutput {
			opts.Dev.Output = stdout
		}
		if f.input != "" {
			if opts.Dev.Input, err = readLines(f.input); err != nil {
				fmt.Fprintln(stderr, "streams:", err)
				return ExitUsage
			}
		}
	}

	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "streams:", err)
			return ExitUsage
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			fmt.Fprintln(stderr, "streams:", err)
			return ExitUsage
		}
		defer pprof.StopCPUProfile()
	}
	if f.memProfile != "" {
		defer func() {
			if err := writeAllocs(f.memProfile); err != nil {
				fmt.Fprintln(stderr, "streams:", err)
			}
		}()
	}
	ctx, stop := runContext()
	defer stop()
	err = Run(ctx, g, opts)
	var ce *ConfigError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ce):
		fmt.Fprintln(stderr, err)
		return ExitUsage
	default:
		logger.Error("pipeline failed", "error", err)
		return ExitFailed
	}
}

// beamRunnerFlag reads Beam's --runner flag ("" means prism).
func beamRunnerFlag(fs *flag.FlagSet) string {
	if fl := fs.Lookup("runner"); fl != nil {
		return fl.Value.String()
	}
	return ""
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, slog.Level, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "info":
		lv = slog.LevelInfo
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error", "critical":
		lv = slog.LevelError
	default:
		return nil, 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), lv, nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), lv, nil
	}
	return nil, 0, fmt.Errorf("--log-format %q: want text or json", format)
}

// engineLogHandler filters what the Beam runner logs: records below min,
// and everything once a clean stop has begun (cancelling a streaming job
// makes prism report its in-flight bundles as failed).
type engineLogHandler struct {
	slog.Handler
	min      slog.Level
	stopping *atomic.Bool
}

func (h *engineLogHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && !h.stopping.Load() && h.Handler.Enabled(ctx, l)
}

func (h *engineLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &engineLogHandler{Handler: h.Handler.WithAttrs(as), min: h.min, stopping: h.stopping}
}

func (h *engineLogHandler) WithGroup(name string) slog.Handler {
	return &engineLogHandler{Handler: h.Handler.WithGroup(name), min: h.min, stopping: h.stopping}
}

// readLines reads the non-empty lines of the --dev-input file. Like the
// config, it must be a regular file: a device (/dev/zero) or a named pipe
// is refused rather than read without end.
func readLines(path string) ([][]byte, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("--dev-input %s: not a regular file", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, append([]byte(nil), line...))
		}
	}
	return out, sc.Err()
}

// writeAllocs writes the allocation profile (every allocation since the
// start, sampled) to path.
func writeAllocs(path string) error {
	pf, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(pf, 0); err != nil {
		pf.Close()
		return err
	}
	return pf.Close()
}
