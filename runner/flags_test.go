package runner

import (
	"bytes"
	"flag"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// beamFlagSet is a flag set that holds Beam's flags, as flag.CommandLine
// does in a pipeline program: the test binary's flag.CommandLine has them
// (Beam's packages define them at init), and the copies share their
// values. The Beam flags a test sets are reset when it ends.
func beamFlagSet(t *testing.T) *flag.FlagSet {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	flag.CommandLine.VisitAll(func(fl *flag.Flag) { fs.Var(fl.Value, fl.Name, fl.Usage) })
	if fs.Lookup("runner") == nil || fs.Lookup("environment_type") == nil {
		t.Fatal("Beam's flags are not on flag.CommandLine")
	}
	t.Cleanup(func() {
		fs.Visit(func(fl *flag.Flag) {
			if orig := flag.CommandLine.Lookup(fl.Name); orig != nil {
				_ = orig.Value.Set(orig.DefValue)
			}
		})
	})
	return fs
}

func runMainWith(t *testing.T, fs *flag.FlagSet, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = main(seedPipeline(), fs, args, &out, &errb)
	return code, out.String(), errb.String()
}

// Beam's flags that -h must not show and --help-beam must.
var someBeamFlags = []string{"--runner", "--endpoint", "--environment_type", "--project", "--worker_machine_type", "--dataflow_service_options"}

// TestHelp: -h (and --help) prints the runner's flags, each once in its
// group with its short form, and none of Beam's, in a screenful of lines
// that fit a terminal; it says where Beam's flags are.
func TestHelp(t *testing.T) {
	code, help, stderr := runMainWith(t, beamFlagSet(t), "-h")
	if code != ExitOK || stderr != "" {
		t.Fatalf("-h: exit %d, stderr %q", code, stderr)
	}
	t.Logf("-h:\n%s", help)
	if _, long, _ := runMainWith(t, beamFlagSet(t), "--help"); long != help {
		t.Errorf("--help differs from -h:\n%s", long)
	}

	lines := strings.Split(strings.TrimSuffix(help, "\n"), "\n")
	if len(lines) > 50 {
		t.Errorf("-h prints %d lines, want at most 50", len(lines))
	}
	for _, l := range lines {
		if len(l) > 80 {
			t.Errorf("line wider than 80 columns: %q", l)
		}
	}
	// No Beam flag is listed; the closing sentence names three, and
	// --help-beam.
	for _, l := range lines {
		for _, f := range someBeamFlags {
			if strings.HasPrefix(strings.TrimSpace(l), f) {
				t.Errorf("-h lists Beam's flag %s: %q", f, l)
			}
		}
	}
	for _, f := range someBeamFlags[3:] {
		if strings.Contains(help, f) {
			t.Errorf("-h names Beam's flag %s", f)
		}
	}
	if i := strings.Index(help, "\nBeam runners:"); i < 0 || !strings.Contains(help[i:], "--environment_type") || !strings.Contains(help[i:], "--help-beam") {
		t.Errorf("-h does not end by pointing to Beam's flags:\n%s", help)
	}

	// Every flag of ours, once, with its short form, under its group, the
	// groups in order.
	at := -1
	for _, g := range flagGroups {
		i := strings.Index(help, "\n"+g+":\n")
		if i < at {
			t.Errorf("group %q missing or out of order", g)
		}
		at = i
	}
	for _, cf := range runFlags {
		entry := "    --" + cf.long
		if cf.short != "" {
			entry = "-" + cf.short + ", --" + cf.long
		}
		var hits []int
		for i, l := range lines {
			if strings.HasPrefix(l, "  "+entry+" ") || l == "  "+entry {
				hits = append(hits, i)
			}
		}
		if len(hits) != 1 {
			t.Errorf("--%s is listed %d times as %q", cf.long, len(hits), entry)
			continue
		}
		group := ""
		for _, l := range lines[:hits[0]] {
			if name, ok := strings.CutSuffix(l, ":"); ok && slices.Contains(flagGroups, name) {
				group = name
			}
		}
		if group != cf.group {
			t.Errorf("--%s is under %q, want %q", cf.long, group, cf.group)
		}
	}
	words := strings.Join(strings.Fields(help), " ")
	for _, want := range []string{"-n, --name NAME", "-c, --config FILE", "-a, --adapter ADAPTER", "-s, --segment-id N", "-l, --log-level LEVEL", `(default "streams")`, "(default $SEGMENT_ID, else 0)"} {
		if !strings.Contains(words, want) {
			t.Errorf("-h lacks %q", want)
		}
	}
}

// TestHelpBeam: --help-beam lists Beam's flags, not the runner's.
func TestHelpBeam(t *testing.T) {
	code, out, stderr := runMainWith(t, beamFlagSet(t), "--help-beam")
	if code != ExitOK || stderr != "" {
		t.Fatalf("--help-beam: exit %d, stderr %q", code, stderr)
	}
	for _, f := range someBeamFlags {
		if !strings.Contains(out, "\n  "+f+" ") && !strings.Contains(out, "\n  "+f+"\n") {
			t.Errorf("--help-beam lacks %s:\n%s", f, out)
		}
	}
	for _, cf := range runFlags {
		if strings.Contains(out, "\n  --"+cf.long+" ") || strings.Contains(out, "\n  --"+cf.long+"\n") {
			t.Errorf("--help-beam lists the runner's --%s", cf.long)
		}
	}
}

// TestShortFlags: Sentry Streams' short forms set what their long forms
// set, and every short form in the table does.
func TestShortFlags(t *testing.T) {
	var shorts []string
	for _, cf := range runFlags {
		if cf.short == "" {
			continue
		}
		shorts = append(shorts, cf.short)
		args := func(name string) []string {
			if cf.arg == "" {
				return []string{"-" + name}
			}
			return []string{"-" + name, "value-of-" + cf.long}
		}
		parse := func(name string) *cliFlags {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f := defineFlags(fs)
			if err := fs.Parse(args(name)); err != nil {
				t.Fatalf("%v: %v", args(name), err)
			}
			return f
		}
		short, long := parse(cf.short), parse("-"+cf.long)
		if !reflect.DeepEqual(short, long) {
			t.Errorf("-%s sets %+v, --%s %+v", cf.short, short, cf.long, long)
		}
		if def := defineFlags(flag.NewFlagSet("test", flag.ContinueOnError)); reflect.DeepEqual(short, def) {
			t.Errorf("-%s changes nothing", cf.short)
		}
	}
	slices.Sort(shorts)
	if want := []string{"a", "c", "h", "l", "n", "s"}; !slices.Equal(shorts, want) {
		t.Errorf("short flags %v, want Sentry Streams' %v", shorts, want)
	}

	// Through main: each short form reaches the option of its long form.
	cfg := writeConfig(t, "pipeline:\n  segments:\n    - steps_config: {}\n")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-a", "beam", "-l", "debug"}, "--config FILE is required"},
		{[]string{"-c", cfg, "-a", "flink"}, `unknown adapter "flink"`},
		{[]string{"-c", cfg, "-s", "x"}, `--segment-id (or SEGMENT_ID) "x"`},
		{[]string{"-c", cfg, "-s", "3"}, "segment"},
		{[]string{"-c", cfg, "-l", "loud"}, `--log-level "loud"`},
		{[]string{"-c", "/dev/zero", "-n", "x"}, "config: not a regular file: /dev/zero"},
	} {
		code, _, stderr := runMain(t, tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, ExitUsage, tc.want)
		}
	}
}

// TestBeamFlagsAccepted: Beam's flags parse beside the runner's and reach
// Beam's options; a flag of neither is refused.
func TestBeamFlagsAccepted(t *testing.T) {
	fs := beamFlagSet(t)
	code, _, stderr := runMainWith(t, fs, "-a", "beam", "--runner", "universal",
		"--endpoint", "localhost:8099", "--environment_type=LOOPBACK")
	if code != ExitUsage || strings.Contains(stderr, "not defined") || !strings.Contains(stderr, "--config FILE is required") {
		t.Fatalf("exit %d, stderr %q; want the missing --config alone", code, stderr)
	}
	if got := beamRunnerFlag(fs); got != "universal" {
		t.Errorf("--runner: Beam's runner is %q", got)
	}
	for name, want := range map[string]string{"endpoint": "localhost:8099", "environment_type": "LOOPBACK"} {
		if got := flag.CommandLine.Lookup(name).Value.String(); got != want {
			t.Errorf("--%s: Beam's flag holds %q, want %q", name, got, want)
		}
	}

	code, _, stderr = runMainWith(t, beamFlagSet(t), "--no_such_flag", "x")
	if code != ExitUsage || !strings.Contains(stderr, "flag provided but not defined: -no_such_flag") || !strings.Contains(stderr, "-h lists them") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, stderr)
	}
}
