package changelog

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestNewWriterChecksClient refuses clients that could not keep a task's
// records in order on their partition, and accepts the two partitioners
// the doc names.
func TestNewWriterChecksClient(t *testing.T) {
	_, seeds := newCluster(t)
	manual := kgo.RecordPartitioner(kgo.ManualPartitioner())
	for _, tc := range []struct {
		name  string
		topic string
		opts  []kgo.Opt
		want  string // in the error; "" for none
	}{
		{"manual", "cl", []kgo.Opt{manual}, ""},
		{"shared", "cl", []kgo.Opt{kgo.RecordPartitioner(Partitioner(nil, "cl"))}, ""},
		{"default partitioner", "cl", nil, "partitioner"},
		{"shared, other topic", "cl", []kgo.Opt{kgo.RecordPartitioner(Partitioner(nil, "other"))}, "partitioner"},
		{"not idempotent", "cl", []kgo.Opt{manual, kgo.DisableIdempotentWrite()}, "idempotent"},
		{"transactional", "cl", []kgo.Opt{manual, kgo.TransactionalID("x")}, "transactional"},
		{"no topic", "", []kgo.Opt{manual}, "empty topic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWriter(newClient(t, seeds, tc.opts...), tc.topic)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, err := NewWriter(nil, "cl"); err == nil {
		t.Error("nil client accepted")
	}
}

// TestAppendOrderPerTask appends twenty checkpoints of one task without
// waiting, interleaved with another task's on the same partition: each
// marker follows its own checkpoint's op and no later one, and done is
// called in order.
func TestAppendOrderPerTask(t *testing.T) {
	_, seeds := newCluster(t)
	w, _ := newWriter(t, seeds)
	var as, bs []<-chan appended
	for i := range 20 {
		v := string(rune('a' + i))
		as = append(as, appendAsync(t, w, 0, "a/!", uint64(i+1), []Op{set("a/x", v)}))
		bs = append(bs, appendAsync(t, w, 0, "b/!", uint64(i+1), []Op{set("b/x", v), set("b/y", v)}))
	}
	last := int64(-1)
	for i, ch := range as {
		a := await(t, ch)
		if a.err != nil || a.end <= last {
			t.Fatalf("append %d: end %d after %d, err %v", i, a.end, last, a.err)
		}
		last = a.end
	}
	for _, ch := range bs {
		if a := await(t, ch); a.err != nil {
			t.Fatal(a.err)
		}
	}

	var got []string
	for _, r := range readAll(t, seeds, 0) {
		if bytes.HasPrefix(r.Key, []byte("a/")) {
			got = append(got, string(r.Key)+"="+string(r.Value))
		}
	}
	var want []string
	for i := range 20 {
		want = append(want, "a/x="+string(rune('a'+i)), "a/!="+string([]byte{0, 0, 0, 0, 0, 0, 0, byte(i + 1)}))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("task a's records\n%q\nwant\n%q", got, want)
	}
	state, res := restoreMap(t, seeds, 0, "b/")
	if state["b/x"] != "t" || state["b/y"] != "t" || res.Epoch != 20 {
		t.Errorf("task b restored %v, epoch %d; want b/x=b/y=t, epoch 20", state, res.Epoch)
	}
}

// TestAppendTooLargeWritesNoMarker fails a checkpoint one of whose ops is
// too large to produce: done reports it, and the marker is not written, so
// Restore sees the ops that made it as an incomplete tail.
func TestAppendTooLargeWritesNoMarker(t *testing.T) {
	_, seeds := newCluster(t)
	w, _ := newWriter(t, seeds, kgo.ProducerBatchMaxBytes(1024))
	a := await(t, appendAsync(t, w, 0, "a/!", 1, []Op{set("a/x", "1"), set("a/big", strings.Repeat("v", 2000)), set("a/y", "1")}))
	var ae *AppendError
	if !errors.As(a.err, &ae) || ae.Epoch != 1 || ae.Partition != 0 || !errors.Is(a.err, kerr.MessageTooLarge) {
		t.Fatalf("done: %v, want an *AppendError of epoch 1 for MessageTooLarge", a.err)
	}
	if a.end != -1 {
		t.Errorf("end %d, want -1", a.end)
	}
	state, res := restoreMap(t, seeds, 0, "a/")
	if len(state) != 0 || res.HasEpoch {
		t.Errorf("restored %v, epoch %d (has %v): a marker was written after a failed op", state, res.Epoch, res.HasEpoch)
	}
	if string(bytes.Join(res.Tail, []byte(","))) != "a/x,a/y" {
		t.Errorf("tail %q, want a/x, a/y", res.Tail)
	}
}

// TestAppendFailureCarries fails a checkpoint on a broker error: the next
// checkpoint of the task writes the failed one's ops again, so it restores
// both; after Forget it would not.
func TestAppendFailureCarries(t *testing.T) {
	c, seeds := newCluster(t)
	w, _ := newWriter(t, seeds, kgo.RecordRetries(0))
	failProduce(c)
	a := await(t, appendAsync(t, w, 0, "a/!", 1, []Op{set("a/x", "1"), set("a/y", "1")}))
	if a.err == nil {
		t.Fatal("done reported no error for a refused produce")
	}
	failProduce(c)
	b := await(t, appendAsync(t, w, 1, "b/!", 1, []Op{set("b/x", "1")}))
	if b.err == nil {
		t.Fatal("done reported no error for a refused produce")
	}

	appendSync(t, w, 0, "a/!", 2, []Op{set("a/z", "2"), del("a/y")})
	state, res := restoreMap(t, seeds, 0, "a/")
	if want := map[string]string{"a/x": "1", "a/z": "2"}; !maps.Equal(state, want) || res.Epoch != 2 {
		t.Errorf("restored %v, epoch %d; want %v, epoch 2", state, res.Epoch, want)
	}

	w.Forget(1, []byte("b/!"))
	appendSync(t, w, 1, "b/!", 2, []Op{set("b/z", "2")})
	state, _ = restoreMap(t, seeds, 1, "b/")
	if want := map[string]string{"b/z": "2"}; !maps.Equal(state, want) {
		t.Errorf("after Forget restored %v, want %v", state, want)
	}
}

// failProduce makes the broker refuse the next produce to "cl".
func failProduce(c *kfake.Cluster) {
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "cl", Err: kerr.PolicyViolation})
}

// TestAppendClosedClient reports the closed client to done.
func TestAppendClosedClient(t *testing.T) {
	_, seeds := newCluster(t)
	w, cl := newWriter(t, seeds)
	cl.Close()
	a := await(t, appendAsync(t, w, 0, "a/!", 1, []Op{set("a/x", "1")}))
	if !errors.Is(a.err, kgo.ErrClientClosed) {
		t.Errorf("done: %v, want ErrClientClosed", a.err)
	}
	a = await(t, appendAsync(t, w, 0, "a/!", 2, nil))
	if !errors.Is(a.err, kgo.ErrClientClosed) {
		t.Errorf("done of a marker alone: %v, want ErrClientClosed", a.err)
	}
}

// TestAppendWrongPartition reports records a partitioner sent elsewhere.
func TestAppendWrongPartition(t *testing.T) {
	_, seeds := newCluster(t)
	toZero := kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
		return func(*kgo.Record, int) int { return 0 }
	})
	cl := newClient(t, seeds, kgo.RecordPartitioner(toZero))
	if _, err := NewWriter(cl, "cl"); err == nil {
		t.Fatal("NewWriter accepted a partitioner that ignores Partition")
	}
	w := &Writer{cl: cl, topic: "cl", tasks: map[taskID]*task{}} // as if it changed after the check
	a := await(t, appendAsync(t, w, 1, "a/!", 1, []Op{set("a/x", "1")}))
	if !errors.Is(a.err, ErrWrongPartition) {
		t.Errorf("done: %v, want ErrWrongPartition", a.err)
	}
}

// TestAppendRefuses returns an error for bad arguments and does not call
// done.
func TestAppendRefuses(t *testing.T) {
	_, seeds := newCluster(t)
	w, _ := newWriter(t, seeds)
	var called atomic.Bool
	done := func(int64, error) { called.Store(true) }
	for name, err := range map[string]error{
		"negative partition": w.Append(-1, []byte("a/!"), 1, nil, done),
		"empty marker":       w.Append(0, nil, 1, nil, done),
		"nil done":           w.Append(0, []byte("a/!"), 1, nil, nil),
		"empty key":          w.Append(0, []byte("a/!"), 1, []Op{set("a/x", "1"), {Value: []byte("v")}}, done),
		"marker key":         w.Append(0, []byte("a/!"), 1, []Op{set("a/!", "1")}, done),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if called.Load() {
		t.Error("done called for a refused Append")
	}
}

// TestCloseWaits waits for every accepted Append, then refuses more.
func TestCloseWaits(t *testing.T) {
	_, seeds := newCluster(t)
	w, _ := newWriter(t, seeds)
	var dones atomic.Int32
	for i := range 10 {
		marker := []byte{'t', byte('0' + i%3), '!'}
		key := []byte{'t', byte('0' + i%3), 'x'}
		if err := w.Append(int32(i%2), marker, uint64(i), []Op{{Key: key, Value: []byte("v")}}, func(_ int64, err error) {
			if err != nil {
				t.Error(err)
			}
			dones.Add(1)
		}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := dones.Load(); n != 10 {
		t.Errorf("Close returned after %d of 10 dones", n)
	}
	if err := w.Append(0, []byte("a/!"), 1, nil, func(int64, error) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// readAll returns the records of partition of "cl", up to its end.
func readAll(t *testing.T, seeds []kgo.Opt, partition int32) []*kgo.Record {
	t.Helper()
	end := endOf(t, seeds, partition)
	cl := newClient(t, seeds, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"cl": {partition: kgo.NewOffset().AtStart()}}))
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	var rs []*kgo.Record
	for len(rs) == 0 || rs[len(rs)-1].Offset+1 < end {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("read %d records of %d: %v", len(rs), end, err)
		}
		rs = append(rs, fs.Records()...)
	}
	return rs
}

// Wait returns once every Append of the task landed, markers included,
// and at once for a task with none in flight.
func TestWaitForAppends(t *testing.T) {
	_, seeds := newCluster(t)
	w, _ := newWriter(t, seeds)
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := w.Wait(ctx, 0, []byte("a!")); err != nil {
		t.Fatalf("Wait on an idle task: %v", err)
	}
	for i := range 5 {
		ops := []Op{set("ax", "v"), set("ay", "v")}
		if err := w.Append(0, []byte("a!"), uint64(i), ops, func(_ int64, err error) {
			if err != nil {
				t.Error(err)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Wait(ctx, 0, []byte("a!")); err != nil {
		t.Fatal(err)
	}
	if end := endOf(t, seeds, 0); end != 15 {
		t.Errorf("Wait returned with the partition's end at %d, want 15 (5 checkpoints of 2 ops and a marker)", end)
	}
	if _, res := restoreMap(t, seeds, 0, "a"); !res.HasEpoch || res.Epoch != 4 || len(res.Tail) != 0 {
		t.Errorf("restore after Wait: %+v, want epoch 4 and no tail", res)
	}
}
