package runner

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/internal/childtest"
)

// A pipeline of two segments, the parse and map chain then the count
// (starts_segment: true in the second segment), runs as two processes
// per segment (--segment-id 0 and 1), joined by the topic
// late-count-segment, which internal_topic_partitions: 3 sizes, as it
// does the count's shuffle topic. One process of each segment is killed
// while records move and restarted at once (a static member, so it takes
// its partitions back): every window comes out with its exact count,
// and nothing is late.
func TestSegmentsRunApartAndSurviveKills(t *testing.T) {
	h := newLateRun(t, lateSpec{Segmented: true, SlowMicros: 400, Partitions: 2, SourceExtra: "internal_topic_partitions: 3"})
	const n = 12000
	rs, want := h.clicks(n)
	// A message the parse step (segment 0) rejects.
	rs = append(rs, &kgo.Record{Topic: h.s.In, Key: []byte("u0"), Value: []byte("not json"), Timestamp: lateBase})
	if err := h.cl.ProduceSync(h.ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Event time passes the last window's end in both partitions.
	manual, err := kgo.NewClient(kgo.SeedBrokers(h.s.Broker), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer manual.Close()
	for p := range int32(2) {
		r := &kgo.Record{Topic: h.s.In, Partition: p, Key: []byte("end"), Value: []byte(`{"user":"end"}`), Timestamp: lateBase.Add(time.Minute)}
		if err := manual.ProduceSync(h.ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	type member struct {
		s     lateSpec
		child *childtest.Child
	}
	start := func(m *member) {
		raw, _ := json.Marshal(m.s)
		c := childtest.Start(t, lateChildPrefix+string(raw))
		t.Cleanup(func() { c.Stop(t) })
		m.child = c
	}
	var members [2][2]*member
	for seg := range 2 {
		for i := range 2 {
			m := &member{s: h.s}
			m.s.Segment, m.s.StateDir, m.s.InstanceID = seg, t.TempDir(), fmt.Sprintf("seg%d-%d", seg, i)
			members[seg][i] = m
			start(m)
		}
	}
	h.child = members[1][0].child
	got := map[string]int{}
	complete := func() bool { return h.windows(got) >= len(want) }
	pause := func(d time.Duration) {
		deadline := time.Now().Add(d)
		h.wait(d.String()+" of the pipeline", func() bool { return time.Now().After(deadline) })
	}
	adm := kadm.NewClient(h.cl)
	// behind is how many records of topic group has not committed.
	behind := func(group, topic string) int64 {
		ends, err := adm.ListEndOffsets(h.ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		offs, _ := adm.FetchOffsets(h.ctx, group)
		var b int64
		ends.Each(func(o kadm.ListedOffset) {
			c, _ := offs.Lookup(o.Topic, o.Partition)
			b += o.Offset - max(c.At, 0)
		})
		return b
	}
	// Each kill lands while segment 0 still has input to write to the
	// segment topic: records move through both segments.
	for _, m := range []*member{members[1][1], members[0][0]} {
		pause(1200 * time.Millisecond)
		if b := behind("late", h.s.In); b == 0 {
			t.Errorf("the input was all through segment 0 before segment %d's kill: the test shows nothing", m.s.Segment)
		}
		m.child.Stop(t) // SIGKILL
		start(m)
	}
	h.wait("every window", complete)
	for k, c := range want {
		if got[k] != c {
			t.Errorf("window %s}: count %d, want %d", k, got[k], c)
		}
	}
	// A message late for the count (segment 1): each segment's rejects
	// reach the source's dead-letter topic.
	late := &kgo.Record{Topic: h.s.In, Key: []byte("u1"), Value: []byte(`{"user":"u1"}`), Timestamp: lateBase.Add(time.Second)}
	if err := h.cl.ProduceSync(h.ctx, late).FirstErr(); err != nil {
		t.Fatal(err)
	}
	steps := map[string]int{}
	h.wait("the dead letters of both segments", func() bool {
		clear(steps)
		for _, r := range h.dlq {
			for _, hd := range r.Headers {
				if hd.Key == beamtranslate.HeaderDLQStep {
					steps[string(hd.Value)]++
				}
			}
		}
		return steps["parse"] > 0 && steps["count"] > 0
	})
	if len(steps) != 2 {
		t.Errorf("dead letters by step %v, want parse's and count's only", steps)
	}
	for _, topic := range []string{"late-count-segment", "late-count-shuffle"} {
		ts, err := adm.ListTopics(h.ctx, topic)
		if err != nil || ts[topic].Err != nil || len(ts[topic].Partitions) != 3 {
			t.Errorf("internal topic %s: %v, want the 3 partitions internal_topic_partitions sets", topic, ts[topic])
		}
	}
}

// A segment after the first names the step it starts, once.
func TestSegmentsNeedTheirFirstStep(t *testing.T) {
	g := latePipeline(lateSpec{}).MustBuild()
	for yaml, want := range map[string]string{
		"pipeline:\n  segments:\n    - steps_config: {}\n    - steps_config:\n        out: {topic: x}\n":                                                    "segment 1 names no step that starts it",
		"pipeline:\n  segments:\n    - steps_config: {}\n    - steps_config:\n        count: {starts_segment: true}\n        out: {starts_segment: true}\n": "segment 1 starts at one step; count and out set starts_segment: true",
		"pipeline:\n  segments:\n    - steps_config:\n        out: {topic: x}\n    - steps_config:\n        count: {starts_segment: true}\n":                `step "out" is in segment 1`,
	} {
		cfg, err := config.Parse([]byte(yaml), nil, ConfigOption())
		if err == nil {
			err = cfg.Validate(0, StepInfos(g))
		}
		if err == nil {
			err = checkSegments(g, cfg)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", yaml, err, want)
		}
	}
}
