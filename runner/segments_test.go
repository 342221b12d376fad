package runner

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/internal/childtest"
)

// A pipeline of two segments, the parse and map chain then the count
// (starts_segment: true in the second segment), runs as one process per
// segment (--segment-id 0 and 1), joined by the topic
// late-count-segment. Each process is killed once while records move and
// restarted at once: every window comes out with its exact count, and
// nothing is late.
func TestSegmentsRunApartAndSurviveKills(t *testing.T) {
	h := newLateRun(t, lateSpec{Segmented: true, SlowMicros: 400})
	const n = 8000
	want := map[string]int{}
	var rs []*kgo.Record
	for i := range n {
		user, at := fmt.Sprintf("u%d", i%7), time.Duration(i)*2*time.Millisecond
		rs = append(rs, &kgo.Record{Topic: h.s.In, Key: []byte(user), Value: fmt.Appendf(nil, `{"user":%q}`, user), Timestamp: lateBase.Add(at)})
		want[fmt.Sprintf(`{"key":%q,"start":%q`, user, lateBase.Add(at.Truncate(10*time.Second)).Format(time.RFC3339))]++
	}
	rs = append(rs, &kgo.Record{Topic: h.s.In, Key: []byte("end"), Value: []byte(`{"user":"end"}`), Timestamp: lateBase.Add(time.Minute)})
	if err := h.cl.ProduceSync(h.ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	dirs := [2]string{t.TempDir(), t.TempDir()}
	start := func(seg int) *childtest.Child {
		s := h.s
		s.Segment, s.StateDir = seg, dirs[seg]
		raw, _ := json.Marshal(s)
		c := childtest.Start(t, lateChildPrefix+string(raw))
		t.Cleanup(func() { c.Stop(t) })
		return c
	}
	first := start(0)
	h.child = start(1)
	got := map[string]int{}
	complete := func() bool {
		for _, r := range h.results() {
			k, v, _ := strings.Cut(r, `,"end"`)
			var w struct{ Value int }
			if err := json.Unmarshal([]byte(r), &w); err == nil && v != "" {
				if c, ok := got[k]; ok && c != w.Value {
					t.Errorf("window %s} emitted with counts %d and %d", k, c, w.Value)
				}
				got[k] = w.Value
			}
		}
		return len(got) >= len(want)
	}
	pause := func(d time.Duration) {
		deadline := time.Now().Add(d)
		h.wait(d.String()+" of the pipeline", func() bool { return time.Now().After(deadline) })
	}
	// behind is how many records of topic group has not committed.
	adm := kadm.NewClient(h.cl)
	behind := func(group, topic string) int64 {
		ends, err := adm.ListEndOffsets(h.ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		offs, _ := adm.FetchOffsets(h.ctx, group)
		end, _ := ends.Lookup(topic, 0)
		c, _ := offs.Lookup(topic, 0)
		return end.Offset - max(c.At, 0)
	}
	// Each kill lands while segment 0 still has input to write to the
	// segment topic: records move through both segments.
	for _, seg := range []int{1, 0} {
		pause(1200 * time.Millisecond)
		if b := behind("late", h.s.In); b == 0 {
			t.Errorf("the input was all through segment 0 before segment %d's kill: the test shows nothing", seg)
		}
		if seg == 0 {
			first.Stop(t) // SIGKILL
			first = start(0)
		} else {
			h.child.Stop(t)
			h.child = start(1)
		}
	}
	h.wait("every window", complete)
	for k, c := range want {
		if got[k] != c {
			t.Errorf("window %s}: count %d, want %d", k, got[k], c)
		}
	}
	if len(h.dlq) > 0 {
		t.Errorf("%d dlq records, want none", len(h.dlq))
	}
	if !strings.Contains(first.Stderr(), "late-count-segment") {
		t.Errorf("segment 0 did not write the segment topic:\n%s", first.Stderr())
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
		cfg, err := config.Parse([]byte(yaml), nil)
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
