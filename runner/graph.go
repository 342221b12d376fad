package runner

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

// Formats of the graph command.
const (
	graphFormatDOT     = "dot"
	graphFormatMermaid = "mermaid"
)

const graphUsage = `usage: %[1]s graph [--format dot|mermaid] [-n NAME] [-c FILE] [-s N]

Prints the pipeline's graph, as Graphviz DOT (the default; render it with
dot -Tsvg) or as a Mermaid flowchart, and exits. Nothing runs: no broker,
no Beam. With --config, the source and Kafka sinks show the topics the
config's segment gives them; -n NAME titles the graph.

`

// graphMain is the graph command: `<program> graph [flags]`. It prints
// g's picture to stdout and starts nothing: no Beam, no broker.
func graphMain(p dsl.Pipeline, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", graphFormatDOT, "output format: dot or mermaid")
	var name string
	fs.StringVar(&name, "n", "", "pipeline name, shown as the graph's title (none by default)")
	fs.StringVar(&name, "name", "", "pipeline name (same as -n)")
	var configPath, segmentID string
	fs.StringVar(&configPath, "c", "", "deployment config YAML file (same as --config)")
	fs.StringVar(&configPath, "config", "", "deployment config YAML file: show the topics it configures")
	fs.StringVar(&segmentID, "s", os.Getenv("SEGMENT_ID"), "index of the config's pipeline segment (same as --segment-id)")
	fs.StringVar(&segmentID, "segment-id", os.Getenv("SEGMENT_ID"), "with --config: index of the config's pipeline segment (default $SEGMENT_ID, else 0)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), graphUsage, programName())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}

	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("graph: unexpected argument %q", fs.Arg(0)))
	}
	var write func(*dsl.Graph, io.Writer, ...dsl.RenderOption) error
	switch *format {
	case graphFormatDOT:
		write = (*dsl.Graph).WriteDOT
	case graphFormatMermaid:
		write = (*dsl.Graph).WriteMermaid
	default:
		problems = append(problems, fmt.Sprintf("--format %q: want %s or %s", *format, graphFormatDOT, graphFormatMermaid))
	}
	seg := 0
	segmentSet := false
	fs.Visit(func(f *flag.Flag) { segmentSet = segmentSet || f.Name == "segment-id" || f.Name == "s" })
	switch {
	case configPath == "" && segmentSet:
		problems = append(problems, "--segment-id applies to a --config FILE: give one")
	case configPath != "" && segmentID != "":
		var err error
		if seg, err = strconv.Atoi(segmentID); err != nil || seg < 0 {
			problems = append(problems, fmt.Sprintf("--segment-id (or SEGMENT_ID) %q: want a non-negative integer", segmentID))
		}
	}
	if len(problems) > 0 {
		for _, pr := range problems {
			fmt.Fprintln(stderr, "streams:", pr)
		}
		return ExitUsage
	}

	g, err := p.Build()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return ExitUsage
	}
	var opts []dsl.RenderOption
	if name != "" {
		opts = append(opts, dsl.RenderTitle(name))
	}
	if configPath != "" {
		// As for a run: a config with problems still loads when it is
		// readable YAML, and Validate lists its problems with the
		// pipeline's.
		cfg, err := config.Load(configPath, ConfigOption())
		if cfg == nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
		topics, err := configTopics(g, cfg, seg)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
		opts = append(opts, dsl.RenderTopics(topics))
	}

	var out bytes.Buffer
	if err := write(g, &out, opts...); err != nil {
		fmt.Fprintln(stderr, "streams:", err)
		return ExitFailed
	}
	if _, err := stdout.Write(out.Bytes()); err != nil {
		fmt.Fprintln(stderr, "streams: writing the graph:", err)
		return ExitFailed
	}
	return ExitOK
}

// configTopics returns the physical topic of g's source and of each of
// its Kafka sinks (step name to topic) for segment segmentID of cfg
// (segmentView): the topics Run would use. The config is validated against g first, as
// Run does; its problems come back as a *config.Error.
func configTopics(g *dsl.Graph, cfg *config.Config, segmentID int) (map[string]string, error) {
	if err := withComponents(cfg).Validate(segmentID, StepInfos(g)); err != nil {
		return nil, err
	}
	seg, err := segmentView(cfg, segmentID)
	if err != nil {
		return nil, err
	}
	if err := checkSegments(g, cfg); err != nil {
		return nil, err
	}
	d, err := resolve(g, seg)
	if err != nil {
		return nil, err
	}
	topics := map[string]string{g.Source().Name(): d.bindings.Source.Topic}
	for name, sb := range d.bindings.Sinks {
		topics[name] = sb.Topic
	}
	return topics, nil
}

// programName is the name the program was run as, for usage messages.
func programName() string {
	if len(os.Args) > 0 && os.Args[0] != "" {
		return filepath.Base(os.Args[0])
	}
	return "streams"
}
