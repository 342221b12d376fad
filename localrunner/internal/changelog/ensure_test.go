package changelog

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestEnsureCreates creates a missing changelog compacted, with the
// partitions and extra configs asked for, and accepts it afterwards.
func TestEnsureCreates(t *testing.T) {
	_, seeds := newCluster(t)
	adm := admin(t, seeds)
	ctx := t.Context()
	if err := Ensure(ctx, adm, "new", 4, -1, map[string]*string{"min.compaction.lag.ms": kadm.StringPtr("60000")}); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	tds, err := adm.ListTopics(ctx, "new")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tds["new"].Partitions); n != 4 {
		t.Errorf("%d partitions, want 4", n)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "new")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("new", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range rc.Configs {
		got[c.Key] = c.MaybeValue()
	}
	if got["cleanup.policy"] != "compact" || got["min.compaction.lag.ms"] != "60000" {
		t.Errorf("configs cleanup.policy=%q min.compaction.lag.ms=%q, want compact and 60000", got["cleanup.policy"], got["min.compaction.lag.ms"])
	}
	for _, partitions := range []int32{4, 2} {
		if err := Ensure(ctx, adm, "new", partitions, -1, nil); err != nil {
			t.Errorf("Ensure of the existing topic for %d tasks: %v", partitions, err)
		}
	}
}

// TestEnsureRefuses refuses existing topics that would lose state, saying
// which topic and why, and a cleanup.policy config that is not compact.
func TestEnsureRefuses(t *testing.T) {
	c, seeds := newCluster(t)
	adm := admin(t, seeds)
	for topic, cfg := range map[string]map[string]string{
		"few":      {"cleanup.policy": "compact"},
		"deletes":  {"cleanup.policy": "delete"},
		"both":     {"cleanup.policy": "compact,delete"},
		"defaults": nil,
	} {
		partitions := int32(4)
		if topic == "few" || topic == "both" {
			partitions = 2
		}
		if err := c.CreateTopic(topic, partitions, cfg); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		topic string
		is    []error
		says  []string
	}{
		{"few", []error{ErrTooFewPartitions}, []string{`"few"`, "2 partitions", "4 tasks"}},
		{"deletes", []error{ErrNotCompacted}, []string{`"deletes"`, "cleanup.policy=delete"}},
		{"defaults", []error{ErrNotCompacted}, []string{`"defaults"`, "cleanup.policy=delete"}},
		{"both", []error{ErrTooFewPartitions, ErrNotCompacted}, []string{`"both"`, "2 partitions", "cleanup.policy=compact,delete"}},
	} {
		err := Ensure(t.Context(), adm, tc.topic, 4, -1, nil)
		if err == nil {
			t.Errorf("%s: accepted", tc.topic)
			continue
		}
		for _, want := range tc.is {
			if !errors.Is(err, want) {
				t.Errorf("%s: %v is not %v", tc.topic, err, want)
			}
		}
		for _, s := range tc.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %q does not say %s", tc.topic, err, s)
			}
		}
	}

	if err := Ensure(t.Context(), adm, "other", 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}); !errors.Is(err, ErrNotCompacted) {
		t.Errorf("cleanup.policy=delete in configs: %v, want ErrNotCompacted", err)
	}
	if err := Ensure(t.Context(), adm, "other", 0, -1, nil); err == nil {
		t.Error("0 partitions accepted")
	}
	tds, err := adm.ListTopics(t.Context(), "other")
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(tds["other"].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("refused arguments created the topic: %+v", tds["other"])
	}
}

// TestEnd returns a partition's end offset and an error for a partition
// that does not exist.
func TestEnd(t *testing.T) {
	_, seeds := newCluster(t)
	w, _ := newWriter(t, seeds)
	if got := endOf(t, seeds, 1); got != 0 {
		t.Errorf("empty partition ends at %d", got)
	}
	end := appendSync(t, w, 1, "a/!", 1, []Op{set("a/x", "1"), set("a/y", "1")})
	if got := endOf(t, seeds, 1); got != end || end != 3 {
		t.Errorf("End %d, done's end %d, want 3", got, end)
	}
	adm := admin(t, seeds)
	if _, err := End(t.Context(), adm, "cl", 5); err == nil {
		t.Error("End of partition 5 of 2: no error")
	}
	if _, err := End(t.Context(), adm, "missing", 0); err == nil {
		t.Error("End of a missing topic: no error")
	}
}
