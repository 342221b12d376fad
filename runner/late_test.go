package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/devbroker"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/childtest"
	"github.com/streams-dev/streams/localrunner"
	"github.com/streams-dev/streams/observe"
)

const lateChildPrefix = "late-dlq:"

// lateSpec is what the late-data child runs: a per-user count in 10 s
// windows reading in, writing out, with its dlq.
type lateSpec struct {
	Broker, In, Out, DLQ, Group string
}

type click struct {
	User string `json:"user"`
}

func latePipeline() dsl.Pipeline {
	return dsl.StreamingSource("clicks", "clicks").
		Apply("parse", dsl.Parser[click]()).
		Apply("count", dsl.Reduce(dsl.TumblingWindow(10*time.Second), func(c click) string { return c.User }, dsl.Count[click]())).
		Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
		Sink("out", dsl.StreamSink("counts"))
}

func runLateChild(raw string) int {
	var s lateSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	yaml := fmt.Sprintf(`pipeline:
  segments:
    - steps_config:
        clicks:
          bootstrap_servers: [%q]
          topic: %s
          consumer_group: %s
          auto_offset_reset: earliest
          watermark_max_skew_ms: 10
          watermark_idle_ms: 3600000
          dlq: {topic: %s}
        out: {bootstrap_servers: [%q], topic: %s}
`, s.Broker, s.In, s.Group, s.DLQ, s.Broker, s.Out)
	cfg, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err = Run(ctx, latePipeline().MustBuild(), Options{
		Config: cfg, Adapter: AdapterLocal, StateDir: "none",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

// A message that arrives after its window closed goes to the dead-letter
// queue, unchanged, with the reduce step and the cause in its headers, and
// the window's result stays what it was; on time ones are counted. The
// records' timestamps are far from the wall clock, so the source's idle
// watermark (now minus the skew) is turned off: it would close every
// window.
func TestLateMessagesGoToTheDLQ(t *testing.T) {
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(1))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := lateSpec{Broker: b.Addr(), In: "late-in", Out: "late-out", DLQ: "late-dlq", Group: "late"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Broker), kgo.ConsumeTopics(s.Out, s.DLQ), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 1, -1, nil, s.In, s.Out, s.DLQ); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	produce := func(user string, at time.Duration) {
		t.Helper()
		r := &kgo.Record{Topic: s.In, Key: []byte(user), Value: fmt.Appendf(nil, `{"user":%q}`, user), Timestamp: base.Add(at)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce("ada", 1*time.Second)
	produce("ada", 4*time.Second)
	produce("ada", 12*time.Second) // the watermark passes 10 s: [0, 10 s) fires

	raw, _ := json.Marshal(s)
	child := childtest.Start(t, lateChildPrefix+string(raw))
	defer child.Stop(t)

	var out, dlq []*kgo.Record
	wait := func(what string, done func() bool) {
		t.Helper()
		for !done() {
			if ctx.Err() != nil || child.Exited() {
				t.Fatalf("%s: output %d, dlq %d records; pipeline:\n%s", what, len(out), len(dlq), child.Stderr())
			}
			fs := cl.PollRecords(ctx, 100)
			fs.EachRecord(func(r *kgo.Record) {
				if r.Topic == s.Out {
					out = append(out, r)
				} else {
					dlq = append(dlq, r)
				}
			})
		}
	}
	wait("the first window", func() bool { return len(out) >= 1 })
	produce("ada", 2*time.Second) // late: its window closed
	produce("ada", 13*time.Second)
	produce("ada", 25*time.Second) // closes [10 s, 20 s)
	wait("the late message", func() bool { return len(dlq) >= 1 && len(out) >= 2 })

	var results []string
	for _, r := range out {
		results = append(results, string(r.Value))
	}
	if !strings.Contains(results[0], `"value":2`) || !strings.Contains(results[1], `"value":2`) || len(results) != 2 {
		t.Errorf("results %q, want two windows of 2 (the late message not counted)", results)
	}
	d := dlq[0]
	headers := map[string]string{}
	for _, h := range d.Headers {
		headers[h.Key] = string(h.Value)
	}
	if string(d.Value) != `{"user":"ada"}` || string(d.Key) != "ada" ||
		headers[beamtranslate.HeaderDLQStep] != "count" || headers[beamtranslate.HeaderDLQOffset] != "3" ||
		!strings.Contains(headers[beamtranslate.HeaderDLQError], "late: event time 2026-01-01T00:00:02Z arrived after its window [2026-01-01T00:00:00Z, 2026-01-01T00:00:10Z) closed") {
		t.Errorf("dlq record: key %q value %q headers %v", d.Key, d.Value, headers)
	}
	if len(dlq) != 1 {
		t.Errorf("%d dlq records, want 1", len(dlq))
	}
}

// Late messages go to the dlq by default when there is one; on_late: drop
// keeps them out of it, and without a dlq they are dropped.
func TestResolveLateToDLQ(t *testing.T) {
	g := latePipeline().MustBuild()
	for _, tc := range []struct {
		yaml string
		want []string
	}{
		{"pipeline:\n  segments:\n    - steps_config:\n        clicks: {dlq: {}}\n", []string{"count"}},
		{"pipeline:\n  segments:\n    - steps_config:\n        clicks: {dlq: {}}\n        count: {on_late: drop}\n", nil},
		{"pipeline:\n  segments:\n    - steps_config:\n        count: {on_late: drop}\n", nil},
	} {
		if d := mustResolve(t, g, tc.yaml); !slices.Equal(d.lateToDLQ, tc.want) {
			t.Errorf("%s: late to dlq %v, want %v", tc.yaml, d.lateToDLQ, tc.want)
		}
	}
}

// A GroupByKey's late drops count for its Reduce step.
func TestLateMessagesAreCounted(t *testing.T) {
	o := &observation{p: observe.New("late", AdapterLocal, latePipeline().MustBuild())}
	o.hooks().BundleDone(localrunner.BundleEvent{Stage: "stage-002", Transforms: []string{"count/CombinePerKey/GroupAndCombine"}, Dropped: 2})
	o.hooks().BundleDone(localrunner.BundleEvent{Stage: "stage-002", Transforms: []string{"count/CombinePerKey/GroupAndCombine"}, Elements: 5})
	mfs, err := o.p.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != observe.MetricStepLate {
			continue
		}
		found = true
		if len(mf.GetMetric()) != 1 {
			t.Fatalf("%d series of %s, want the reduce step's alone", len(mf.GetMetric()), observe.MetricStepLate)
		}
		m := mf.GetMetric()[0]
		var step string
		for _, l := range m.GetLabel() {
			if l.GetName() == "step" {
				step = l.GetValue()
			}
		}
		if step != "count" || m.GetCounter().GetValue() != 2 {
			t.Errorf("%s{step=%q} = %v, want count 2", observe.MetricStepLate, step, m.GetCounter().GetValue())
		}
	}
	if !found {
		t.Errorf("no %s", observe.MetricStepLate)
	}
}
