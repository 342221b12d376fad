package changelog

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newCluster starts an in-process broker with topic "cl" of 2 compacted
// partitions and returns it and the options to reach it.
func newCluster(t *testing.T, opts ...kfake.Opt) (*kfake.Cluster, []kgo.Opt) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	t.Cleanup(c.Close)
	if err := c.CreateTopic("cl", 2, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	return c, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
}

// newClient returns a client of seeds with opts, closed at the end of the
// test.
func newClient(t *testing.T, seeds []kgo.Opt, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(append([]kgo.Opt{}, seeds...), opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// admin returns an admin client of seeds.
func admin(t *testing.T, seeds []kgo.Opt) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, seeds))
}
