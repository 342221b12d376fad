package runner

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/internal/childtest"
)

// A partition task's state travels through its changelog: a process killed
// with records waiting in a window, replaced by one on an empty state
// directory, restores the window from the changelog topic and resumes
// reading after what the window holds, so the window's count is whole and
// nothing is counted twice.
func TestTaskStateRestoredOnAnEmptyDisk(t *testing.T) {
	h := newLateRun(t, lateSpec{Partitioned: true, StateDir: t.TempDir()})
	h.produce("ada", 1*time.Second)
	h.produce("ada", 4*time.Second) // [0, 10 s) holds 2
	h.start()
	topic := "late-clicks-changelog"
	adm := kadm.NewClient(h.cl)
	waitFor(t, h.child, 30*time.Second, "a checkpoint of the window in the changelog", func() bool {
		ends, err := adm.ListEndOffsets(h.ctx, topic)
		if err != nil {
			return false
		}
		o, ok := ends.Lookup(topic, 0)
		return ok && o.Err == nil && o.Offset > 1
	})
	h.child.Stop(t) // SIGKILL

	h.s.StateDir = t.TempDir() // another machine: an empty disk
	h.start()
	h.produce("ada", 6*time.Second)
	h.produce("ada", 12*time.Second) // closes [0, 10 s)
	h.wait("the first window", func() bool { return len(h.out) >= 1 })
	rs := h.results()
	if !strings.Contains(rs[0], `"value":3`) {
		t.Errorf("first window %s, want a count of 3 (2 restored, 1 new; 5 would be the restored ones read again)", rs[0])
	}
	stderr := h.child.Stderr()
	if !strings.Contains(stderr, "resuming from the saved state") || !strings.Contains(stderr, "partition state restored") {
		t.Errorf("the new process did not restore the partition from its changelog:\n%s", stderr)
	}
	if len(h.dlq) > 0 {
		t.Errorf("%d dlq records, want none", len(h.dlq))
	}
}

// A process killed every 3 s, and restarted at once on the same state
// directory (a static group member: the restart takes its partitions over
// without waiting for the dead one's session), still finishes a backlog
// behind a step taking 400 us per message: each life checkpoints what it
// did, and every window comes out whole.
func TestKilledEveryThreeSecondsStillFinishes(t *testing.T) {
	h := newLateRun(t, lateSpec{Partitioned: true, StateDir: t.TempDir(), InstanceID: "member-0", SlowMicros: 400})
	const n = 12000 // 4.8 s of the slow step
	rs, want := h.clicks(n)
	// Event time passes the last window's end.
	rs = append(rs, &kgo.Record{Topic: h.s.In, Key: []byte("end"), Value: []byte(`{"user":"end"}`), Timestamp: lateBase.Add(time.Minute)})
	if err := h.cl.ProduceSync(h.ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	complete := func() bool { return h.windows(got) >= len(want) }
	kills := 0
	h.start()
	for ; kills < 20; kills++ {
		deadline := time.Now().Add(3 * time.Second)
		h.wait("3 s of the pipeline", func() bool { return time.Now().After(deadline) })
		if complete() {
			break
		}
		h.child.Stop(t) // SIGKILL
		h.start()
	}
	h.wait("every window", complete)
	t.Logf("finished after %d kills, 3 s apart", kills)
	if kills < 2 {
		t.Errorf("only %d kills landed before the end: the backlog was too short to show anything", kills)
	}
	for k, c := range want {
		if got[k] != c {
			t.Errorf("window %s}: count %d, want %d", k, got[k], c)
		}
	}
	if len(h.dlq) > 0 {
		t.Errorf("%d dlq records, want none", len(h.dlq))
	}
}

// changelog_replication_factor is the replication factor of the changelog
// topic a durable run creates for its partition tasks (here of a Batch per
// partition); without it, the broker's default (3 on three brokers).
func TestChangelogReplicationFactor(t *testing.T) {
	for _, tc := range []struct {
		source string
		want   int
	}{{"", 3}, {", changelog_replication_factor: 2", 2}} {
		t.Run(fmt.Sprint(tc.want), func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(4, "par-in", "par-out"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			s := parSpec{Broker: c.ListenAddrs()[0], In: "par-in", Out: "par-out", Source: tc.source, StateDir: t.TempDir()}
			raw, _ := json.Marshal(s)
			child := childtest.Start(t, parChildPrefix+string(raw))
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			const topic = "pipeline-in-in-changelog"
			replicas := map[int32]int{}
			waitFor(t, child, time.Minute, "the changelog topic", func() bool {
				ts, err := adm.ListTopics(t.Context(), topic)
				if err != nil || ts[topic].Err != nil || len(ts[topic].Partitions) == 0 {
					return false
				}
				for _, p := range ts[topic].Partitions {
					replicas[p.Partition] = len(p.Replicas)
				}
				return true
			})
			for p, n := range replicas {
				if n != tc.want {
					t.Errorf("changelog partition %d has %d replicas, want %d", p, n, tc.want)
				}
			}
			if len(replicas) != 4 {
				t.Errorf("changelog has %d partitions, want the source's 4", len(replicas))
			}
		})
	}
}
