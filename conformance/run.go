package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/devbroker"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/childtest"
	"github.com/streams-dev/streams/localrunner"
	"github.com/streams-dev/streams/runner"
)

// Runners are the runner names Run accepts.
var Runners = []string{"prism", "local", "local-portable"}

// KafkaEnv names the environment variable that points the suite at a real
// Kafka cluster (host:port[,host:port...]). Unset, each case gets an
// in-process broker.
const KafkaEnv = "STREAMS_TEST_KAFKA"

// Timeout bounds one case.
var Timeout = 2 * time.Minute

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// runnerOptions maps a runner name to runner options.
func runnerOptions(name string) (runner.Options, bool) {
	switch name {
	case "prism":
		return runner.Options{Adapter: runner.AdapterBeam, BeamRunner: "prism"}, true
	case "local":
		return runner.Options{Adapter: runner.AdapterLocal}, true
	case "local-portable":
		// The bundled runner running io/kafka's portable read (a splittable
		// DoFn) instead of its native consumer-group source.
		return runner.Options{Adapter: runner.AdapterLocal, Local: []localrunner.Option{localrunner.WithNativeKafka(false)}}, true
	}
	return runner.Options{}, false
}

// childSpec is what a pipeline process runs.
type childSpec struct {
	Case       string
	Runner     string
	Config     string // deployment config YAML
	PipelineID string
	// StateDir is the bundled runner's state directory (runner.Options).
	StateDir string
}

// Run runs case c on the named runner and fails t on any difference from
// the expected output. The pipeline runs in a child process (see package
// childtest): the test binary's TestMain must call MaybeChild.
func Run(t testing.TB, runnerName string, c Case) {
	t.Helper()
	if _, ok := runnerOptions(runnerName); !ok {
		t.Fatalf("conformance: unknown runner %q (have %v)", runnerName, Runners)
	}
	if why := c.SkipReason(runnerName); why != "" {
		t.Skip(why)
	}
	g, err := c.Pipeline().Build()
	if err != nil {
		t.Fatalf("case %s: %v", c.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()

	brokers := strings.Split(os.Getenv(KafkaEnv), ",")
	if brokers[0] == "" {
		b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(2))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		brokers = []string{b.Addr()}
	}
	prefix := unsafe.ReplaceAllString(fmt.Sprintf("%s-%s-%d-", c.Name, runnerName, time.Now().UnixNano()), "_")
	topics := map[string]string{} // logical stream -> topic
	src := g.Source()
	topics[src.StreamName()] = prefix + src.StreamName()
	steps := map[string]any{
		src.Name(): map[string]any{
			"bootstrap_servers": brokers,
			"topic":             topics[src.StreamName()],
			"consumer_group":    prefix + "group",
			"auto_offset_reset": "earliest",
			// The cases' input is bounded: once read, the last windows
			// close by the wall clock, as on every runner reading through
			// the splittable DoFn (the bundled runner's default keeps an
			// idle partition's time).
			"watermark_idle_wall_clock": true,
		},
	}
	if c.DLQ {
		topics[DLQ] = prefix + DLQ
		steps[src.Name()].(map[string]any)["dlq"] = map[string]any{"topic": topics[DLQ]}
	}
	for _, n := range g.Sinks() {
		if n.SinkKind() != dsl.SinkStream {
			continue
		}
		topics[n.StreamName()] = prefix + n.StreamName()
		steps[n.Name()] = map[string]any{"bootstrap_servers": brokers, "topic": topics[n.StreamName()]}
	}
	buckets := blobBuckets(t, c, g, steps)
	for step, kv := range c.Steps {
		m, ok := steps[step].(map[string]any)
		if !ok {
			m = map[string]any{}
			steps[step] = m
		}
		for k, v := range kv {
			m[k] = v
		}
	}
	raw, err := yaml.Marshal(map[string]any{"pipeline": map[string]any{"segments": []any{map[string]any{"steps_config": steps}}}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw, os.LookupEnv, runner.ConfigOption())
	if err != nil {
		t.Fatalf("case %s: config: %v\n%s", c.Name, err, raw)
	}
	_ = cfg

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var all []string
	for _, tp := range topics {
		all = append(all, tp)
	}
	sort.Strings(all)
	if _, err := adm.CreateTopics(ctx, c.partitions(), -1, nil, all...); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for _, in := range c.Input {
		r := &kgo.Record{Topic: topics[src.StreamName()], Value: []byte(in.Value), Timestamp: in.Timestamp}
		if in.Key != "" {
			r.Key = []byte(in.Key)
		}
		for _, k := range sortedKeys(in.Headers) {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(in.Headers[k])})
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	stateDir := "none" // the portable read cannot be durable
	if runnerName == "local" {
		stateDir = filepath.Join(t.TempDir(), "state")
	}
	spec, err := json.Marshal(childSpec{Case: c.Name, Runner: runnerName, Config: string(raw), PipelineID: prefix, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	child := childtest.Start(t, string(spec))
	runCtx, stop := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-child.Done():
			// A pipeline ends only when it fails: stop waiting for output.
			t.Errorf("case %s: the pipeline process ended (exit %d):\n%s", c.Name, child.ExitCode(), child.Stderr())
			stop()
		case <-runCtx.Done():
		}
	}()
	defer func() {
		stop()
		<-watched
		child.Stop(t)
	}()

	want := 0
	for _, rs := range c.Want {
		want += len(rs)
	}
	var outs []string
	for stream, tp := range topics {
		if stream != src.StreamName() {
			outs = append(outs, tp)
		}
	}
	got := consume(t, runCtx, brokers, outs, want, func() bool {
		return committed(runCtx, adm, prefix+"group", topics[src.StreamName()]) && blobsDone(runCtx, c, buckets)
	})
	for stream, tp := range topics {
		if stream == src.StreamName() {
			continue
		}
		if diff := compare(c.Want[stream], got[tp]); diff != "" {
			t.Errorf("case %s on %s, stream %s:\n%s", c.Name, runnerName, stream, diff)
		}
	}
	for _, d := range checkBlobs(ctx, c, buckets) {
		t.Errorf("case %s on %s, %s", c.Name, runnerName, d)
	}
}

// consume reads the output topics until want records have arrived and
// done reports that the input is committed (then a little longer, to see
// any extra record), or until ctx ends.
func consume(t testing.TB, ctx context.Context, brokers []string, outs []string, want int, done func() bool) map[string][]*kgo.Record {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(outs...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := map[string][]*kgo.Record{}
	n := 0
	var settled time.Time
	for {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := cl.PollFetches(pctx)
		if len(outs) == 0 { // nothing to poll: PollFetches returns at once
			<-pctx.Done()
		}
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Topic] = append(got[r.Topic], r)
			n++
		})
		if ctx.Err() != nil {
			t.Errorf("timed out with %d of %d expected records", n, want)
			return got
		}
		if n >= want && settled.IsZero() && done() {
			settled = time.Now()
		}
		if !settled.IsZero() && time.Since(settled) > time.Second {
			return got
		}
	}
}

func committed(ctx context.Context, adm *kadm.Client, group, topic string) bool {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return false
	}
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	ok := true
	ends.Each(func(o kadm.ListedOffset) {
		if c, found := offs.Lookup(o.Topic, o.Partition); o.Offset > 0 && (!found || c.At < o.Offset) {
			ok = false
		}
	})
	return ok
}

// compare matches want against got as multisets and describes the
// difference ("" when they match).
func compare(want []Record, got []*kgo.Record) string {
	used := make([]bool, len(got))
	var missing []string
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && matches(w, g) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			missing = append(missing, w.String())
		}
	}
	var extra []string
	for i, g := range got {
		if !used[i] {
			extra = append(extra, fromKgo(g).String())
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return ""
	}
	return fmt.Sprintf("  missing: %v\n  unexpected: %v", missing, extra)
}

func matches(w Record, g *kgo.Record) bool {
	if w.Key != string(g.Key) || w.Value != string(g.Value) {
		return false
	}
	if !w.Timestamp.IsZero() && w.Timestamp.UnixMilli() != g.Timestamp.UnixMilli() {
		return false
	}
	have := map[string]string{}
	for _, h := range g.Headers {
		have[h.Key] = string(h.Value)
	}
	for k, v := range w.Headers {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func fromKgo(r *kgo.Record) Record {
	out := Record{Key: string(r.Key), Value: string(r.Value), Timestamp: r.Timestamp}
	if len(r.Headers) > 0 {
		out.Headers = map[string]string{}
		for _, h := range r.Headers {
			out.Headers[h.Key] = string(h.Value)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// MaybeChild runs a case's pipeline and exits when this process is a
// pipeline process started by Run; otherwise it returns. A test binary's
// TestMain calls it after beam.Init.
func MaybeChild() {
	raw, ok := childtest.Spec()
	if !ok {
		return
	}
	os.Exit(runChild(raw))
}

func runChild(raw string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "conformance child:", err)
		return 2
	}
	var c *Case
	for _, cc := range append(Cases(), crashCase(), crashWindowCase(), crashCountWindowCase(), tasksCase(), shuffleTasksCase()) {
		if cc.Name == spec.Case {
			c = &cc
		}
	}
	opts, ok := runnerOptions(spec.Runner)
	if c == nil || !ok {
		fmt.Fprintf(os.Stderr, "conformance child: no case %q or runner %q\n", spec.Case, spec.Runner)
		return 2
	}
	g, err := c.Pipeline().Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg, err := config.Parse([]byte(spec.Config), os.LookupEnv, runner.ConfigOption())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	opts.Name, opts.Config, opts.PipelineID, opts.StateDir = c.Name, cfg, spec.PipelineID, spec.StateDir
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// SIGTERM stops the pipeline cleanly, as in runner.Main.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := runner.Run(ctx, g, opts); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline failed:", err)
		return 1
	}
	return 0
}

// crashCase is the pipeline of the crash test: parse, filter, serialize,
// as the seed does, over messages with unique ids.
func crashCase() Case {
	c := seedCase()
	c.Name = "crash_copy"
	return c
}

// crashWindowCase is the pipeline of the windowed crash test: the
// tumbling count case's count per user in 10-second tumbling windows of
// the records' timestamps, under a name of its own.
func crashWindowCase() Case {
	return Case{Name: "crash_window_count", Pipeline: tumblingCountCase().Pipeline}
}

// CrashSpec is the child spec of the crash test's pipeline on the bundled
// runner: reading in with group, writing out, on the broker at addr.
func CrashSpec(addr, in, out, group string) string {
	return crashSpec("crash_copy", "myinput", "myoutput", addr, in, out, group, "", nil)
}

// CrashSpecExactlyOnce is CrashSpec with processing_guarantee
// exactly_once on the source.
func CrashSpecExactlyOnce(addr, in, out, group string) string {
	return crashSpec("crash_copy", "myinput", "myoutput", addr, in, out, group, "", map[string]any{"processing_guarantee": "exactly_once"})
}

// CrashWindowSpec is the child spec of the windowed crash test's pipeline
// (crash_window_count: JSON {"user": ...} records counted per user in
// 10-second windows) on the bundled runner, with its durable state in
// stateDir. Idle partitions do not move the watermark (an hour's idleness):
// only record timestamps do, so the results do not depend on when records
// arrive.
func CrashWindowSpec(addr, in, out, group, stateDir string) string {
	return crashSpec("crash_window_count", "in", "out", addr, in, out, group, stateDir, map[string]any{"watermark_idle_ms": 3_600_000})
}

func crashSpec(name, source, sink, addr, in, out, group, stateDir string, extra map[string]any) string {
	src := map[string]any{"bootstrap_servers": []string{addr}, "topic": in, "consumer_group": group, "auto_offset_reset": "earliest"}
	for k, v := range extra {
		src[k] = v
	}
	steps := map[string]any{
		source: src,
		sink:   map[string]any{"bootstrap_servers": []string{addr}, "topic": out},
	}
	raw, _ := yaml.Marshal(map[string]any{"pipeline": map[string]any{"segments": []any{map[string]any{"steps_config": steps}}}})
	spec, _ := json.Marshal(childSpec{Case: name, Runner: "local", Config: string(raw), PipelineID: "crash", StateDir: stateDir})
	return string(spec)
}

// StartPipeline starts a pipeline process from a spec such as CrashSpec.
func StartPipeline(t testing.TB, spec string) *childtest.Child { return childtest.Start(t, spec) }

// Committed reports whether group has committed the end of every
// partition of topic.
func Committed(ctx context.Context, adm *kadm.Client, group, topic string) bool {
	return committed(ctx, adm, group, topic)
}
