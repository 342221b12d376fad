package changelog

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIsManual tells the manual partitioners from kgo's others.
func TestIsManual(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    kgo.Partitioner
		want bool
	}{
		{"manual", kgo.ManualPartitioner(), true},
		{"shared, changelog topic", Partitioner(kgo.StickyKeyPartitioner(nil), "out", "cl"), true},
		{"shared, other topic", Partitioner(kgo.StickyKeyPartitioner(nil), "out"), false},
		{"default", kgo.UniformBytesPartitioner(64<<10, true, true, nil), false},
		{"sticky key", kgo.StickyKeyPartitioner(nil), false},
		{"round robin", kgo.RoundRobinPartitioner(), false},
		{"least backup", kgo.LeastBackupPartitioner(), false},
		{"nil", nil, false},
	} {
		if got := isManual(tc.p, "cl"); got != tc.want {
			t.Errorf("%s: isManual %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestPartitionerSharedClient produces changelog records and other
// records through one client: the changelog's go to their Partition
// field, the others' are partitioned by the other partitioner (a manual
// one would fail a record whose Partition is out of range).
func TestPartitionerSharedClient(t *testing.T) {
	c, seeds := newCluster(t)
	if err := c.CreateTopic("out", 2, nil); err != nil {
		t.Fatal(err)
	}
	cl := newClient(t, seeds, kgo.RecordPartitioner(Partitioner(nil, "cl")))
	w, err := NewWriter(cl, "cl")
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Topic: "out", Partition: 9, Key: []byte("k")}).FirstErr(); err != nil {
		t.Errorf("produce to another topic: %v", err)
	}
	end := appendSync(t, w, 1, "a/!", 1, []Op{set("a/x", "1")})
	if end != 2 || endOf(t, seeds, 0) != 0 {
		t.Errorf("partition 1 ends at %d, partition 0 at %d; want 2 and 0", end, endOf(t, seeds, 0))
	}
}
