package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/streams-dev/streams/internal/beamjob"
)

const jobsUsage = `usage: %[1]s jobs [--endpoint HOST:PORT] list
       %[1]s jobs [--endpoint HOST:PORT] show JOB_ID
       %[1]s jobs [--endpoint HOST:PORT] cancel JOB_ID

Jobs on a Beam job server (prism, Flink, Spark), through the Job API:
list them, show one's state and counters, cancel one and wait for its
final state. The endpoint defaults to $STREAMS_JOB_ENDPOINT.

`

// jobsMain is the jobs command (jobsUsage).
func jobsMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", os.Getenv("STREAMS_JOB_ENDPOINT"), "the job server (host:port)")
	timeout := fs.Duration("timeout", 2*time.Minute, "the most the command waits")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), jobsUsage, programName())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	cmd, rest := fs.Arg(0), fs.Args()[min(1, fs.NArg()):]
	var problems []string
	if *endpoint == "" {
		problems = append(problems, "jobs: --endpoint (or $STREAMS_JOB_ENDPOINT) is required")
	}
	switch {
	case cmd == "list" && len(rest) == 0, (cmd == "show" || cmd == "cancel") && len(rest) == 1:
	case cmd == "":
		problems = append(problems, "jobs: a command is required: list, show JOB_ID or cancel JOB_ID")
	default:
		problems = append(problems, fmt.Sprintf("jobs: %q: want list, show JOB_ID or cancel JOB_ID", fs.Args()))
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		fs.Usage()
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := runJobsCommand(ctx, *endpoint, cmd, rest, stdout); err != nil {
		fmt.Fprintln(stderr, "jobs:", err)
		return ExitFailed
	}
	return ExitOK
}

func runJobsCommand(ctx context.Context, endpoint, cmd string, args []string, out io.Writer) error {
	srv, err := beamjob.Dial(ctx, endpoint)
	if err != nil {
		return err
	}
	defer srv.Close()
	switch cmd {
	case "list":
		jobs, err := srv.Jobs(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "JOB ID\tNAME\tSTATE")
		for _, j := range jobs {
			fmt.Fprintf(w, "%s\t%s\t%s\n", j.GetJobId(), j.GetJobName(), j.GetState())
		}
		return w.Flush()
	case "show":
		return showJob(ctx, srv, args[0], out)
	}
	st, err := srv.Cancel(ctx, args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "job %s: %s\n", args[0], st)
	return nil
}

// showJob prints job id's state and counters.
func showJob(ctx context.Context, srv *beamjob.Server, id string, out io.Writer) error {
	st, err := srv.State(ctx, id)
	if err != nil {
		return err
	}
	cs, err := srv.Counters(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "job %s: %s\n", id, st)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "COUNTER\tVALUE")
	for _, c := range cs {
		fmt.Fprintf(w, "%s/%s\t%d\n", c.Namespace, c.Name, c.Value)
	}
	return w.Flush()
}
