package runner

import (
	"cmp"
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

// lateSpec is what the late-data child runs: a per-user count reading
// In, writing Out, with its dlq: in 10 s tumbling windows, or 30 s
// windows every 10 s (Sliding); by record timestamps, or by the
// payload's ts (PayloadTime); its state per partition (Partitioned: the
// user is the record key) in StateDir ("": none); behind a step taking
// SlowMicros per message; a static group member InstanceID. Segmented
// makes the count step start a second segment, and the child runs
// segment Segment of the two.
type lateSpec struct {
	Broker, In, Out, DLQ, Group string
	Sliding, PayloadTime        bool
	Partitioned                 bool
	StateDir, InstanceID        string
	SlowMicros                  int
	Segmented                   bool
	Segment                     int
	// Partitions of the topics (default 1), and SourceExtra more keys
	// of the source's entry ("key: value, ...").
	Partitions  int
	SourceExtra string
}

type click struct {
	User string    `json:"user"`
	TS   time.Time `json:"ts,omitzero"`
}

func latePipeline(s lateSpec) dsl.Pipeline {
	w := dsl.TumblingWindow(10 * time.Second)
	if s.Sliding {
		w = dsl.SlidingWindow(30*time.Second, 10*time.Second)
	}
	var opts []dsl.ReduceOption[click]
	if s.PayloadTime {
		opts = append(opts, dsl.WithEventTime(func(c click) time.Time { return c.TS }))
	}
	if s.Partitioned {
		opts = append(opts, dsl.KeyFollowsPartitioning[click]())
	}
	slow := time.Duration(s.SlowMicros) * time.Microsecond
	return dsl.StreamingSource("clicks", "clicks").
		Apply("parse", dsl.Parser[click]()).
		Apply("slow", dsl.Map(func(c click) (click, error) { time.Sleep(slow); return c, nil })).
		Apply("count", dsl.Reduce(w, func(c click) string { return c.User }, dsl.Count[click](), opts...)).
		Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
		Sink("out", dsl.StreamSink("counts"))
}

func runLateChild(raw string) int {
	var s lateSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	instance := ""
	if s.InstanceID != "" {
		instance = fmt.Sprintf("group.instance.id: %q", s.InstanceID)
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
          dlq: {topic: %s}
          override_params: {%s}
          %s
        out: {bootstrap_servers: [%q], topic: %s}
`, s.Broker, s.In, s.Group, s.DLQ, instance, s.SourceExtra, s.Broker, s.Out)
	if s.Segmented {
		yaml = strings.Replace(yaml, "        out:", "    - steps_config:\n        count: {starts_segment: true}\n        out:", 1)
	}
	cfg, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := cmp.Or(s.StateDir, "none")
	err = Run(ctx, latePipeline(s).MustBuild(), Options{
		Config: cfg, Adapter: AdapterLocal, StateDir: dir, SegmentID: s.Segment,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

// lateRun is a late-data child on a broker of its own, and what a test
// read of its output and dlq.
type lateRun struct {
	t        *testing.T
	ctx      context.Context
	s        lateSpec
	cl       *kgo.Client
	child    *childtest.Child
	out, dlq []*kgo.Record
}

// lateBase is the event time the late-data tests count from.
var lateBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newLateRun starts a broker and makes the topics of s; start starts the
// child.
func newLateRun(t *testing.T, s lateSpec) *lateRun {
	t.Helper()
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	s.Broker, s.In, s.Out, s.DLQ, s.Group = b.Addr(), "late-in", "late-out", "late-dlq", "late"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Broker), kgo.ConsumeTopics(s.Out, s.DLQ), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, int32(cmp.Or(s.Partitions, 1)), -1, nil, s.In, s.Out, s.DLQ); err != nil {
		t.Fatal(err)
	}
	return &lateRun{t: t, ctx: ctx, s: s, cl: cl}
}

func (h *lateRun) start() {
	raw, _ := json.Marshal(h.s)
	h.child = childtest.Start(h.t, lateChildPrefix+string(raw))
	h.t.Cleanup(func() { h.child.Stop(h.t) })
}

// produce writes a click of user with the record timestamp lateBase+at,
// or, with PayloadTime, the payload's ts lateBase+at and the record
// timestamp an hour later.
func (h *lateRun) produce(user string, at time.Duration) {
	h.t.Helper()
	r := &kgo.Record{Topic: h.s.In, Key: []byte(user), Value: fmt.Appendf(nil, `{"user":%q}`, user), Timestamp: lateBase.Add(at)}
	if h.s.PayloadTime {
		r.Value = fmt.Appendf(nil, `{"user":%q,"ts":%q}`, user, lateBase.Add(at).Format(time.RFC3339Nano))
		r.Timestamp = lateBase.Add(at + time.Hour)
	}
	if err := h.cl.ProduceSync(h.ctx, r).FirstErr(); err != nil {
		h.t.Fatal(err)
	}
}

// wait reads the output and the dlq until done.
func (h *lateRun) wait(what string, done func() bool) {
	h.t.Helper()
	for !done() {
		if h.ctx.Err() != nil || h.child.Exited() {
			h.t.Fatalf("%s: output %d, dlq %d records; pipeline:\n%s", what, len(h.out), len(h.dlq), h.child.Stderr())
		}
		pctx, cancel := context.WithTimeout(h.ctx, 100*time.Millisecond)
		fs := h.cl.PollRecords(pctx, 100)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic == h.s.Out {
				h.out = append(h.out, r)
			} else {
				h.dlq = append(h.dlq, r)
			}
		})
	}
}

// clicks returns n clicks of users u0 to u6, 2 ms of event time apart
// from lateBase, and the count each (user, 10 s window) should get, by
// the start of its result ({"key":"u1","start":"..."}).
func (h *lateRun) clicks(n int) ([]*kgo.Record, map[string]int) {
	want := map[string]int{}
	var rs []*kgo.Record
	for i := range n {
		user, at := fmt.Sprintf("u%d", i%7), time.Duration(i)*2*time.Millisecond
		rs = append(rs, &kgo.Record{Topic: h.s.In, Key: []byte(user), Value: fmt.Appendf(nil, `{"user":%q}`, user), Timestamp: lateBase.Add(at)})
		want[fmt.Sprintf(`{"key":%q,"start":%q`, user, lateBase.Add(at.Truncate(10*time.Second)).Format(time.RFC3339))]++
	}
	return rs, want
}

// windows records in got the count of each window result read so far
// (keyed as clicks keys them), failing h.t when a window comes out twice
// with different counts, and returns how many windows came out.
func (h *lateRun) windows(got map[string]int) int {
	for _, r := range h.results() {
		k, v, _ := strings.Cut(r, `,"end"`)
		var w struct{ Value int }
		if err := json.Unmarshal([]byte(r), &w); err == nil && v != "" {
			if c, ok := got[k]; ok && c != w.Value {
				h.t.Errorf("window %s} emitted with counts %d and %d", k, c, w.Value)
			}
			got[k] = w.Value
		}
	}
	return len(got)
}

func (h *lateRun) results() []string {
	var rs []string
	for _, r := range h.out {
		rs = append(rs, string(r.Value))
	}
	return rs
}

// A message that arrives after its window closed goes to the dead-letter
// queue, unchanged, with the reduce step and the cause in its headers, and
// the window's result stays what it was; on time ones are counted.
func TestLateMessagesGoToTheDLQ(t *testing.T) {
	h := newLateRun(t, lateSpec{})
	h.produce("ada", 1*time.Second)
	h.produce("ada", 4*time.Second)
	h.produce("ada", 12*time.Second) // the watermark passes 10 s: [0, 10 s) fires
	h.start()
	h.wait("the first window", func() bool { return len(h.out) >= 1 })
	h.produce("ada", 2*time.Second) // late: its window closed
	h.produce("ada", 13*time.Second)
	h.produce("ada", 25*time.Second) // closes [10 s, 20 s)
	h.wait("the late message", func() bool { return len(h.dlq) >= 1 && len(h.out) >= 2 })

	results := h.results()
	if !strings.Contains(results[0], `"value":2`) || !strings.Contains(results[1], `"value":2`) || len(results) != 2 {
		t.Errorf("results %q, want two windows of 2 (the late message not counted)", results)
	}
	d := h.dlq[0]
	headers := map[string]string{}
	for _, hd := range d.Headers {
		headers[hd.Key] = string(hd.Value)
	}
	if string(d.Value) != `{"user":"ada"}` || string(d.Key) != "ada" ||
		headers[beamtranslate.HeaderDLQStep] != "count" || headers[beamtranslate.HeaderDLQOffset] != "3" ||
		!strings.Contains(headers[beamtranslate.HeaderDLQError], "late: event time 2026-01-01T00:00:02Z arrived after its window [2026-01-01T00:00:00Z, 2026-01-01T00:00:10Z) closed") {
		t.Errorf("dlq record: key %q value %q headers %v", d.Key, d.Value, headers)
	}
	if len(h.dlq) != 1 {
		t.Errorf("%d dlq records, want 1", len(h.dlq))
	}
}

// Late messages go to the dlq by default when there is one; on_late: drop
// keeps them out of it, and without a dlq they are dropped.
func TestResolveLateToDLQ(t *testing.T) {
	g := latePipeline(lateSpec{}).MustBuild()
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
	o := &observation{p: observe.New("late", AdapterLocal, latePipeline(lateSpec{}).MustBuild())}
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
