package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/bench/internal/window"
)

// TestLoop runs the loop on two partitions: windows are emitted once both
// partitions' timestamps pass their end, a late record is dropped, and
// commits stop at the first record of the oldest open window.
func TestLoop(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in"), kfake.SeedTopics(1, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	base := time.UnixMilli(1_700_000_000_000) // a window boundary
	produce := func(part int32, key string, value int, at time.Duration) {
		t.Helper()
		v := fmt.Appendf(nil, `{"key":%q,"value":%d,"extra":"x"}`, key, value)
		r := &kgo.Record{Topic: "in", Partition: part, Key: []byte(key), Value: v, Timestamp: base.Add(at)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Key a in partition 0, b in 1, one event a second for 20 s: offsets
	// 0-4 of each partition are in the first window, 5-9 in the second.
	for i := range 20 {
		produce(int32(i%2), string(rune('a'+i%2)), i, time.Duration(i)*time.Second)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, c.ListenAddrs(), "in", "g", "out") }()

	results := func(n int) map[string]window.Stats {
		t.Helper()
		got := make(map[string]window.Stats)
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		for len(got) < n {
			fs := cl.PollFetches(pctx)
			if err := pctx.Err(); err != nil {
				t.Fatalf("%d of %d results: %v", len(got), n, err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				var res window.Result
				if err := json.Unmarshal(r.Value, &res); err != nil {
					t.Fatal(err)
				}
				if string(r.Key) != res.Key || !r.Timestamp.Equal(res.End.Add(-time.Millisecond)) || res.End.Sub(res.Start) != window.Size {
					t.Errorf("record %s, key %q, timestamp %v", r.Value, r.Key, r.Timestamp)
				}
				got[fmt.Sprintf("%s@%d", res.Key, res.Start.Sub(base)/time.Second)] = res.Value
			})
		}
		return got
	}
	committed := func(want map[int32]int64) {
		t.Helper()
		var got map[int32]int64
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			resp, err := adm.FetchOffsets(ctx, "g")
			if err != nil {
				continue
			}
			got = make(map[int32]int64)
			resp.Each(func(o kadm.OffsetResponse) { got[o.Partition] = o.At })
			if maps.Equal(got, want) {
				return
			}
		}
		t.Fatalf("committed %v, want %v", got, want)
	}

	// The watermark is 18 s (partition 0's newest): the first window only.
	want := map[string]window.Stats{"a@0": {Count: 5, Sum: 0 + 2 + 4 + 6 + 8}, "b@0": {Count: 5, Sum: 1 + 3 + 5 + 7 + 9}}
	if got := results(2); !maps.Equal(got, want) {
		t.Errorf("first window: %v, want %v", got, want)
	}
	committed(map[int32]int64{0: 5, 1: 5})

	// A late record (dropped), then 25 s in both partitions: the second
	// window closes, the third stays open.
	produce(0, "a", 1000, 5*time.Second)
	produce(0, "a", 1, 25*time.Second)
	produce(1, "b", 1, 25*time.Second)
	want = map[string]window.Stats{"a@10": {Count: 5, Sum: 10 + 12 + 14 + 16 + 18}, "b@10": {Count: 5, Sum: 11 + 13 + 15 + 17 + 19}}
	if got := results(2); !maps.Equal(got, want) {
		t.Errorf("second window: %v, want %v", got, want)
	}
	committed(map[int32]int64{0: 11, 1: 10})

	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
