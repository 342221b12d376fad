// Command streams is the streams command line:
//
//	streams <command> [flags]
//
// `streams help` lists the commands and `streams help <command>` describes
// one. Exit status: 0 on success, 1 when a command fails, 2 on bad usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// command is one `streams <name>` subcommand. run parses args (the
// arguments after the name), does the work until it is done or ctx ends, and
// returns the exit status; it writes results to stdout and diagnostics to
// stderr.
type command struct {
	name    string
	summary string // one line for `streams help`
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands returns the subcommands in the order `streams help` lists them.
// To add one, add it here and put it in its own file, as broker.go does.
func commands() []command {
	return []command{
		{"broker", "run a development Kafka broker on localhost", runBroker},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, a second one kills the process at once.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args (without the program name) and returns
// the exit status. Cancelling ctx stops a long-running command cleanly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			usage(stdout)
			return 0
		}
		name, rest = rest[0], []string{"-h"}
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, rest, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "streams: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: streams <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'streams help <command>' for a command's flags.\n")
}

// newFlagSet returns a flag set for `streams <name>` whose usage message,
// on stderr, starts with synopsis and description.
func newFlagSet(name, synopsis, description string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: streams %s %s\n\n%s\n\nflags:\n", name, synopsis, description)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs. If it returns false, the command should
// exit with the status returned: 0 after -h, 2 on a bad flag or a stray
// argument.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "streams %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return 2, false
	}
	return 0, true
}
