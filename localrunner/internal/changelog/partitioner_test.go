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
