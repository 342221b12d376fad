package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"

	"github.com/streams-dev/streams/devbroker"
)

const brokerDescription = `Run a development Kafka broker (franz-go's kfake) on 127.0.0.1 until
interrupted (SIGINT or SIGTERM), then stop cleanly, saving its state when
-data-dir is given. It creates -topics at start; a pipeline run against it
creates the topics it uses (source, sinks, dead-letter queue) when it
starts. Other topics are created when a client that asks for
auto-creation (kcat, librdkafka producers; not franz-go producers) first
uses them, unless -no-auto-create is given; with -data-dir such topics
are lost if the broker is killed (kill -9).`

func runBroker(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("broker", "[flags]", brokerDescription, stderr)
	port := fs.Int("port", 9092, "`port` to listen on, on 127.0.0.1; 0 picks a free one")
	dataDir := fs.String("data-dir", "", "keep topics, records and group offsets in `dir` across restarts (default: in memory, lost on exit)")
	topics := fs.String("topics", "events,transformed-events", "comma-separated `topics` to create at start")
	partitions := fs.Int("partitions", int(devbroker.DefaultPartitions), "partitions of the topics the broker creates")
	noAutoCreate := fs.Bool("no-auto-create", false, "do not create topics that clients ask for")
	logLevel := fs.String("log-level", "info", "log `level` on stderr: debug, info, warn or error")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "streams broker: -log-level %q: want debug, info, warn or error\n", *logLevel)
		return 2
	}
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(stderr, "streams broker: -port %d: want 0 to 65535\n", *port)
		return 2
	}
	if *partitions < 1 || *partitions > math.MaxInt32 {
		fmt.Fprintf(stderr, "streams broker: -partitions %d: want at least 1\n", *partitions)
		return 2
	}
	var seed []string
	for t := range strings.SplitSeq(*topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			seed = append(seed, t)
		}
	}

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))
	b, err := devbroker.Start(
		devbroker.ListenAddr(addr),
		devbroker.DataDir(*dataDir),
		devbroker.Topics(seed...),
		devbroker.Partitions(int32(*partitions)),
		devbroker.AutoCreateTopics(!*noAutoCreate),
		devbroker.Logger(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))),
	)
	if err != nil {
		fmt.Fprintf(stderr, "streams broker: %v\n", err)
		if errors.Is(err, devbroker.ErrAddrInUse) {
			switch id, ok := devbroker.Identify(ctx, addr); {
			case ok && id == devbroker.ClusterID:
				fmt.Fprintf(stderr, "A streams development broker already answers at %s: use it, or pick another -port (0 for a free one).\n", addr)
			case ok:
				fmt.Fprintf(stderr, "A Kafka broker that is not a streams development broker (cluster id %q) answers at %s: pick another -port (0 for a free one) and give pipelines --dev-broker 127.0.0.1:PORT.\n", id, addr)
			default:
				fmt.Fprintf(stderr, "Something that is not a Kafka broker listens at %s: pick another -port (0 for a free one).\n", addr)
			}
		}
		return 1
	}

	_, actualPort, _ := net.SplitHostPort(b.Addr())
	fmt.Fprintf(stdout, "streams dev broker listening on %s (kcat -b localhost:%s -L)\n", b.Addr(), actualPort)
	switch {
	case len(seed) > 0 && !*noAutoCreate:
		fmt.Fprintf(stdout, "topics: %s (%d partitions each); other topics are created when a client that asks for auto-creation (kcat) first uses them\n", strings.Join(seed, ", "), *partitions)
	case len(seed) > 0:
		fmt.Fprintf(stdout, "topics: %s (%d partitions each); no others are created\n", strings.Join(seed, ", "), *partitions)
	case !*noAutoCreate:
		fmt.Fprintf(stdout, "topics: created when a client that asks for auto-creation (kcat) first uses them, with %d partitions\n", *partitions)
	}
	fmt.Fprintln(stdout, "pipelines create the topics they use (source, sinks, dead-letter queue) when they start")
	if *dataDir == "" {
		fmt.Fprintln(stdout, "data: in memory, lost on exit (-data-dir DIR keeps it)")
	} else {
		fmt.Fprintf(stdout, "data: %s\n", *dataDir)
	}
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")

	<-ctx.Done()
	if err := b.Close(); err != nil {
		fmt.Fprintf(stderr, "streams broker: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "streams dev broker stopped")
	return 0
}
