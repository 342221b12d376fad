package changelog

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// wait bounds every wait of a test on the broker.
const wait = 20 * time.Second

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

// newWriter returns a writer to "cl" through a manual-partitioning client
// made with opts.
func newWriter(t *testing.T, seeds []kgo.Opt, opts ...kgo.Opt) (*Writer, *kgo.Client) {
	t.Helper()
	cl := newClient(t, seeds, append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	w, err := NewWriter(cl, "cl")
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	return w, cl
}

// appended is what an Append reported to its done.
type appended struct {
	end int64
	err error
}

// appendAsync appends and returns a channel that receives what done
// reports.
func appendAsync(t *testing.T, w *Writer, partition int32, marker string, epoch uint64, ops []Op) <-chan appended {
	t.Helper()
	ch := make(chan appended, 1)
	err := w.Append(partition, []byte(marker), epoch, ops, func(end int64, err error) { ch <- appended{end, err} })
	if err != nil {
		t.Fatalf("Append refused: %v", err)
	}
	return ch
}

// await returns what ch receives, failing the test after wait.
func await(t *testing.T, ch <-chan appended) appended {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(wait):
		t.Fatal("done not called")
		return appended{}
	}
}

// appendSync appends and waits for done; it fails the test on an error.
func appendSync(t *testing.T, w *Writer, partition int32, marker string, epoch uint64, ops []Op) int64 {
	t.Helper()
	a := await(t, appendAsync(t, w, partition, marker, epoch, ops))
	if a.err != nil {
		t.Fatalf("append epoch %d of %s: %v", epoch, marker, a.err)
	}
	return a.end
}

// restoreMap restores the task of prefix (marker prefix+"!") from
// partition of "cl" into a map of key to value.
func restoreMap(t *testing.T, seeds []kgo.Opt, partition int32, prefix string) (map[string]string, Result) {
	t.Helper()
	return restoreWith(t, seeds, partition, prefix)
}

// restoreWith is restoreMap with the client options opts (seeds, and
// an isolation level, say).
func restoreWith(t *testing.T, opts []kgo.Opt, partition int32, prefix string) (map[string]string, Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	state := map[string]string{}
	res, err := Restore(ctx, opts, "cl", partition, []byte(prefix), []byte(prefix+"!"), func(op Op) error {
		if op.Delete {
			delete(state, string(op.Key))
		} else {
			state[string(op.Key)] = string(op.Value)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Restore %s from partition %d: %v", prefix, partition, err)
	}
	return state, res
}

// set and del build ops.
func set(k, v string) Op { return Op{Key: []byte(k), Value: []byte(v)} }
func del(k string) Op    { return Op{Key: []byte(k), Delete: true} }

// admin returns an admin client of seeds.
func admin(t *testing.T, seeds []kgo.Opt) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, seeds))
}

// endOf returns the end offset of partition of "cl".
func endOf(t *testing.T, seeds []kgo.Opt, partition int32) int64 {
	t.Helper()
	end, err := End(t.Context(), admin(t, seeds), "cl", partition)
	if err != nil {
		t.Fatalf("End: %v", err)
	}
	return end
}
