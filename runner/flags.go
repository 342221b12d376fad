package runner

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// cliFlags are the values of the runner's own flags. The flags live on
// flag.CommandLine, beside Beam's (--runner, --endpoint, ...), because
// beam.Init and Beam's runners read that flag set.
type cliFlags struct {
	name, configPath, adapter, logLevel, logFormat string
	segmentID                                      string
	input                                          string
	printOutput, exitWhenDone                      bool
	cpuProfile, memProfile                         string
	stateDir                                       string
	discardCorruptState                            bool
	devBroker                                      string
	detach                                         bool
	help, helpBeam                                 bool
}

// cliFlag is one of the runner's flags: its names, the group -h lists it
// under, the name of its argument, its doc and how it is defined. Every
// flag is one entry of runFlags, from which both the flag set and the
// help are made.
type cliFlag struct {
	long  string
	short string // Sentry Streams' one-letter form, or ""
	group string
	arg   string // what -h calls its argument; "" for a boolean flag
	usage string
	// def, when set, is the default -h shows, for defaults that depend
	// on the environment; otherwise -h shows the flag's own default,
	// unless it is empty or false.
	def    string
	define func(fs *flag.FlagSet, name, usage string, f *cliFlags)
}

// stringFlag defines a string flag stored in field, with the default
// def() (read when the flag is defined, so from the environment then).
func stringFlag(field func(*cliFlags) *string, def func() string) func(*flag.FlagSet, string, string, *cliFlags) {
	return func(fs *flag.FlagSet, name, usage string, f *cliFlags) { fs.StringVar(field(f), name, def(), usage) }
}

func boolFlag(field func(*cliFlags) *bool) func(*flag.FlagSet, string, string, *cliFlags) {
	return func(fs *flag.FlagSet, name, usage string, f *cliFlags) { fs.BoolVar(field(f), name, false, usage) }
}

func constant(s string) func() string { return func() string { return s } }

func env(name string) func() string { return func() string { return os.Getenv(name) } }

// The groups of -h, in order.
const (
	groupRun     = "Running a pipeline"
	groupLogs    = "Logs"
	groupState   = "Durable state (bundled runner)"
	groupDev     = "Development"
	groupProfile = "Profiling"
	groupHelp    = "Help"
)

var flagGroups = []string{groupRun, groupLogs, groupState, groupDev, groupProfile, groupHelp}

// runFlags are the runner's flags: Sentry Streams' runner's (-n, -l, -a,
// -c, -s, with their long forms) and ours.
var runFlags = []cliFlag{
	{long: "name", short: "n", group: groupRun, arg: "NAME",
		usage:  "pipeline name (logs, metrics)",
		define: stringFlag(func(f *cliFlags) *string { return &f.name }, constant("streams"))},
	{long: "config", short: "c", group: groupRun, arg: "FILE",
		usage:  "deployment config YAML file (required)",
		define: stringFlag(func(f *cliFlags) *string { return &f.configPath }, constant(""))},
	{long: "adapter", short: "a", group: groupRun, arg: "ADAPTER",
		usage:  "local (the bundled runner) or beam (a Beam runner: prism, or what --runner names)",
		define: stringFlag(func(f *cliFlags) *string { return &f.adapter }, constant(AdapterLocal))},
	{long: "segment-id", short: "s", group: groupRun, arg: "N",
		usage: "the config's segment to run", def: "$SEGMENT_ID, else 0",
		define: stringFlag(func(f *cliFlags) *string { return &f.segmentID }, env("SEGMENT_ID"))},

	{long: "log-level", short: "l", group: groupLogs, arg: "LEVEL",
		usage:  "debug, info, warn or error",
		define: stringFlag(func(f *cliFlags) *string { return &f.logLevel }, constant("info"))},
	{long: "log-format", group: groupLogs, arg: "FORMAT",
		usage:  "text or json",
		define: stringFlag(func(f *cliFlags) *string { return &f.logFormat }, constant("text"))},

	{long: "detach", group: groupRun,
		usage:  "submit the job and exit, leaving it running",
		define: boolFlag(func(f *cliFlags) *bool { return &f.detach })},

	{long: "state-dir", group: groupState, arg: "DIR",
		usage:  "where Batch and Reduce steps keep their state; none: in memory",
		def:    "$STREAMS_STATE_DIR, else $TMPDIR/streams-state/<name>/<group>/segment-<N>",
		define: stringFlag(func(f *cliFlags) *string { return &f.stateDir }, env("STREAMS_STATE_DIR"))},
	{long: "discard-corrupt-state", group: groupState,
		usage:  "on a corrupt write-ahead log, start empty and replay from the committed offsets (default: refuse to start)",
		define: boolFlag(func(f *cliFlags) *bool { return &f.discardCorruptState })},

	{long: "dev-input", group: groupDev, arg: "FILE",
		usage:  "produce the lines of FILE to the source topic",
		define: stringFlag(func(f *cliFlags) *string { return &f.input }, constant(""))},
	{long: "dev-print-output", group: groupDev,
		usage:  "print what reaches the sink and dead-letter topics",
		define: boolFlag(func(f *cliFlags) *bool { return &f.printOutput })},
	{long: "dev-exit-when-done", group: groupDev,
		usage:  "stop when all input is processed and committed",
		define: boolFlag(func(f *cliFlags) *bool { return &f.exitWhenDone })},
	{long: "dev-broker", group: groupDev, arg: "HOST:PORT",
		usage:  "the development broker, for a config without bootstrap_servers (another Kafka there is not used: one is embedded)",
		def:    "$STREAMS_DEV_BROKER, else " + DevBrokerAddr,
		define: stringFlag(func(f *cliFlags) *string { return &f.devBroker }, env("STREAMS_DEV_BROKER"))},

	{long: "cpuprofile", group: groupProfile, arg: "FILE",
		usage:  "write a CPU profile (pprof) of the run",
		define: stringFlag(func(f *cliFlags) *string { return &f.cpuProfile }, constant(""))},
	{long: "memprofile", group: groupProfile, arg: "FILE",
		usage:  "write an allocation profile (pprof) at the end",
		define: stringFlag(func(f *cliFlags) *string { return &f.memProfile }, constant(""))},

	{long: "help", short: "h", group: groupHelp,
		usage:  "print this help and exit",
		define: boolFlag(func(f *cliFlags) *bool { return &f.help })},
	{long: "help-beam", group: groupHelp,
		usage:  "print Beam's flags (for --adapter beam) and exit",
		define: boolFlag(func(f *cliFlags) *bool { return &f.helpBeam })},
}

// defineFlags defines the runner's flags on fs, each under its long name
// and its short one.
func defineFlags(fs *flag.FlagSet) *cliFlags {
	f := &cliFlags{}
	for _, cf := range runFlags {
		cf.define(fs, cf.long, cf.usage, f)
		if cf.short != "" {
			cf.define(fs, cf.short, "same as --"+cf.long, f)
		}
	}
	return f
}

// ownFlag reports whether name is one of the runner's flags, long or
// short.
func ownFlag(name string) bool {
	return slices.ContainsFunc(runFlags, func(cf cliFlag) bool { return cf.long == name || cf.short == name })
}

// helpHead is the top of -h; %[1]s is the program's name.
const helpHead = `usage: %[1]s [flags]
       %[1]s graph [--format dot|mermaid] [-n NAME] [-c FILE] [-s N]
       %[1]s jobs [--endpoint HOST:PORT] list|show ID|cancel ID

Runs the pipeline until SIGINT or SIGTERM; exit code 1 on failure, 2 on a
usage or config error. graph: the pipeline's graph; jobs: Beam jobs (-h).
`

// helpTail ends -h: where Beam's flags are.
const helpTail = `
Beam runners: with --adapter beam, Beam's own flags are accepted too and
passed to Beam (--runner, --endpoint, --environment_type, ...);
--help-beam lists them.
`

// helpColumn is where the docs of -h start.
const (
	helpColumn = 28
	helpWidth  = 79
)

// writeHelp writes -h: the runner's flags, by group, and where Beam's
// flags are. fs holds the flags (for their defaults).
func writeHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, helpHead, programName())
	for _, g := range flagGroups {
		fmt.Fprintf(w, "\n%s:\n", g)
		for _, cf := range runFlags {
			if cf.group != g {
				continue
			}
			names := "    "
			if cf.short != "" {
				names = "-" + cf.short + ", "
			}
			names = "  " + names + "--" + cf.long
			if cf.arg != "" {
				names += " " + cf.arg
			}
			doc := cf.usage
			switch def := cf.def; {
			case def != "":
				doc += " (default " + def + ")"
			case cf.arg != "":
				if fl := fs.Lookup(cf.long); fl != nil && fl.DefValue != "" {
					doc += fmt.Sprintf(" (default %q)", fl.DefValue)
				}
			}
			writeWrapped(w, names, doc)
		}
	}
	fmt.Fprint(w, helpTail)
}

// writeHelpBeam writes --help-beam: the flags of fs that are not the
// runner's, which Beam's packages defined.
func writeHelpBeam(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `usage: %s --adapter beam [flags] [Beam flags]

Beam's flags, read with --adapter beam and passed to the Beam runner
(--runner defaults to prism, in process). The runner's own flags: -h.

`, programName())
	fs.VisitAll(func(fl *flag.Flag) {
		if ownFlag(fl.Name) {
			return
		}
		arg, usage := flag.UnquoteUsage(fl)
		names := "  --" + fl.Name
		if arg != "" {
			names += " " + arg
		}
		if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" && fl.DefValue != "[]" {
			usage += fmt.Sprintf(" (default %q)", fl.DefValue)
		}
		writeWrapped(w, names, usage)
	})
}

// writeWrapped writes names, then doc from helpColumn on (on the next
// line when names reach it), wrapped at helpWidth.
func writeWrapped(w io.Writer, names, doc string) {
	line := names
	if len(line) >= helpColumn-1 {
		fmt.Fprintln(w, line)
		line = ""
	}
	line += strings.Repeat(" ", helpColumn-len(line))
	width := len(line)
	first := true
	for word := range strings.FieldsSeq(doc) {
		if !first && width+1+len(word) > helpWidth {
			fmt.Fprintln(w, line)
			line = strings.Repeat(" ", helpColumn) + word
			width = len(line)
			continue
		}
		if !first {
			line += " "
			width++
		}
		line += word
		width += len(word)
		first = false
	}
	fmt.Fprintln(w, line)
}
