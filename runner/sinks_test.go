package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/devbroker"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/childtest"
)

// A sink's and a dead-letter queue's override_params replace the
// source's key by key; the source's other keys (credentials, ...) stay.
func TestSinkOverrideParamsWinPerKey(t *testing.T) {
	d := mustResolve(t, seedPipeline().MustBuild(), `pipeline:
  segments:
    - steps_config:
        myinput:
          override_params: {client.id: source-client, linger.ms: 5, acks: all}
          dlq: {override_params: {message.max.bytes: 2000000}}
        myoutput:
          override_params: {client.id: sink-client, acks: "1"}
`)
	want := map[string]string{"client.id": "sink-client", "linger.ms": "5", "acks": "1"}
	if got := d.bindings.Sinks["myoutput"].Client.Properties; !maps.Equal(got, want) {
		t.Errorf("sink properties %v, want %v", got, want)
	}
	want = map[string]string{"client.id": "source-client", "linger.ms": "5", "acks": "all", "message.max.bytes": "2000000"}
	if got := d.bindings.Source.DLQ.Client.Properties; !maps.Equal(got, want) {
		t.Errorf("dlq properties %v, want %v", got, want)
	}
	if got := d.bindings.Source.Client.Properties["client.id"]; got != "source-client" {
		t.Errorf("source client.id %q", got)
	}
}

// A sink on another cluster takes none of the source's properties.
func TestSinkOnAnotherClusterKeepsItsOwnProperties(t *testing.T) {
	d := mustResolve(t, seedPipeline().MustBuild(), `pipeline:
  segments:
    - steps_config:
        myinput:
          bootstrap_servers: ["k1:9092"]
          override_params: {client.id: source-client}
        myoutput:
          bootstrap_servers: ["k2:9092"]
          override_params: {acks: "1"}
`)
	if got := d.bindings.Sinks["myoutput"].Client.Properties; !maps.Equal(got, map[string]string{"acks": "1"}) {
		t.Errorf("sink properties %v", got)
	}
}

// A sink writing to the source's topic would feed the pipeline its own
// output: a config error, as a dead-letter topic equal to the source's is.
func TestSinkTopicEqualToSourceRefused(t *testing.T) {
	cfg, err := config.Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        myoutput: {topic: events}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), seedPipeline().MustBuild(), Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `sink step myoutput: topic "events" is the source's`) {
		t.Fatalf("Run: %v, want a config error naming the sink step", err)
	}
}

// Missing sink and dead-letter topics are found at start, each named by
// its step, before anything is read.
func TestMissingOutputTopicsReportedAtStart(t *testing.T) {
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Topics("events"), devbroker.AutoCreateTopics(false))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`pipeline:
  segments:
    - steps_config:
        myinput:
          bootstrap_servers: [%q]
          dlq: {topic: events-dlq}
`, b.Addr())), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = Run(ctx, seedPipeline().MustBuild(), Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	t.Logf("Run: %v", err)
	for _, want := range []string{
		`sink step myoutput: topic "transformed-events" does not exist`,
		`source step myinput: dead-letter queue: topic "events-dlq" does not exist`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run: %v; want an error with %q", err, want)
		}
	}
}

const sinksChildPrefix = "sinks-oversize:"

// poisonSize is the value size of the poison message: it just fits the
// source topic (kfake's max.message.bytes is Kafka's 1,048,588), but not
// beside the dead-letter headers, and is above franz-go's default batch
// limit (1,000,012).
const poisonSize = 1_048_500

func oversizePipeline() dsl.Pipeline {
	return dsl.StreamingSource("myinput", "events").
		Apply("mymap", dsl.Map(func(b []byte) ([]byte, error) {
			switch {
			case bytes.HasPrefix(b, []byte("bad")):
				return nil, errors.New("poison")
			case bytes.HasPrefix(b, []byte("big")):
				return bytes.Repeat([]byte("x"), 2<<20), nil
			}
			return b, nil
		})).
		Sink("myoutput", dsl.StreamSink("out"))
}

// runSinksChild runs oversizePipeline on the development broker at addr
// until its input is processed.
func runSinksChild(addr string) int {
	cfg, err := config.Parse([]byte(`pipeline:
  segments:
    - steps_config:
        myinput: {auto_offset_reset: earliest, consumer_group: oversize, dlq: {topic: events-dlq}}
`), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err = Run(ctx, oversizePipeline().MustBuild(), Options{
		Config: cfg, DevBrokerAddr: addr, StateDir: "none",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Dev:    &DevOptions{ExitWhenDone: true},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

// A poison message of about 1 MB goes to the dead-letter queue truncated,
// with headers giving its original size; an output of 2 MB is its
// message's error, dead-lettered with the cause; the pipeline goes on, and
// a restart does not stop at the same offset. The development broker is
// one like `streams broker` runs, without the dead-letter topic: the
// runner creates it.
func TestOversizedRecordsAreDeadLettered(t *testing.T) {
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Topics("events", "out"), devbroker.AutoCreateTopics(false))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ProducerBatchMaxBytes(1_048_588), kgo.DefaultProduceTopic("events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	poison := append([]byte("bad"), bytes.Repeat([]byte("p"), poisonSize-3)...)
	for _, v := range [][]byte{poison, []byte("big"), []byte("ok")} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for run := 1; run <= 2; run++ {
		child := childtest.Start(t, sinksChildPrefix+b.Addr())
		if !child.Wait(2 * time.Minute) {
			t.Fatalf("run %d did not stop by itself:\n%s", run, child.Stderr())
		}
		if code := child.ExitCode(); code != 0 {
			t.Fatalf("run %d: exit code %d:\n%s", run, code, lastLines(child.Stderr(), 15))
		}
	}
	dlq := consumeAll(ctx, t, b.Addr(), "events-dlq", 2)
	out := consumeAll(ctx, t, b.Addr(), "out", 1)
	if string(out[0].Value) != "ok" {
		t.Errorf("out: %q", out[0].Value)
	}
	var truncated, tooLarge bool
	for _, r := range dlq {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		t.Logf("dlq record: %d bytes, step=%s truncated=%s original_size=%s error=%.160s", len(r.Value),
			h[beamtranslate.HeaderDLQStep], h[beamtranslate.HeaderDLQTruncated], h[beamtranslate.HeaderDLQOriginalSize], h[beamtranslate.HeaderDLQError])
		switch h[beamtranslate.HeaderDLQStep] {
		case "mymap":
			truncated = h[beamtranslate.HeaderDLQTruncated] == "value" && h[beamtranslate.HeaderDLQOriginalSize] == strconv.Itoa(poisonSize) &&
				len(r.Value) < poisonSize && bytes.HasPrefix(poison, r.Value)
		case "myoutput":
			tooLarge = string(r.Value) == "big" && strings.Contains(h[beamtranslate.HeaderDLQError], "record too large")
		}
	}
	if !truncated || !tooLarge {
		t.Errorf("dead-lettered: truncated poison %v, too-large output with its cause %v", truncated, tooLarge)
	}
}

func consumeAll(ctx context.Context, t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for len(recs) < n {
		fs := cl.PollFetches(fctx)
		if fctx.Err() != nil {
			t.Fatalf("%s: %d records, want %d", topic, len(recs), n)
		}
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
