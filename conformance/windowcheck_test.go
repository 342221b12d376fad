package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Helpers of the windowed crash tests: the results a crashed run gave,
// compared with an uncrashed run's, and the records that close every
// window at the end.

// window is one window of one key.
type window struct {
	key   string
	start int64 // Unix ms
}

// windowCheck compares windowed counts (a dsl.Windowed[string, int] as
// JSON a record) with what an uncrashed run gives: every window of want
// must come out with its count; it may come out more than once (at least
// once), but only ever with that count.
type windowCheck struct {
	want  map[window]int
	seen  map[window]int // results read, by window
	found int            // windows of want seen
	out   int            // results read
	wrong int            // results whose count is not want's
	// committed reads with isolation.level read_committed.
	committed bool
}

func newWindowCheck(want map[window]int) *windowCheck {
	return &windowCheck{want: want, seen: map[window]int{}}
}

// add checks one result, failing t for the first few wrong ones.
func (c *windowCheck) add(t *testing.T, value []byte) {
	t.Helper()
	c.out++
	var v struct {
		Key   string    `json:"key"`
		Start time.Time `json:"start"`
		Value int       `json:"value"`
	}
	if err := json.Unmarshal(value, &v); err != nil {
		t.Errorf("unexpected output record %q", value)
		return
	}
	w := window{v.Key, v.Start.UnixMilli()}
	if v.Value != c.want[w] {
		c.wrong++
		if c.wrong <= 10 {
			t.Errorf("window %s %s: count %d, want %d", w.key, v.Start.Format(time.TimeOnly), v.Value, c.want[w])
		}
	}
	if _, ok := c.want[w]; ok && c.seen[w] == 0 {
		c.found++
	}
	c.seen[w]++
}

// read reads topic from its start into c until over says that no more
// results will come, given when the last one came: then the windows not
// seen are missing. It fails t at once when alive returns an error (a
// pipeline process ended by itself).
func (c *windowCheck) read(ctx context.Context, t *testing.T, addr, topic string, over func(last time.Time) bool, alive func() error) {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if c.committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	last := time.Now()
	for !over(last) {
		if err := alive(); err != nil {
			t.Fatalf("%d of %d windows out: %v", c.found, len(c.want), err)
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d windows out: %v", c.found, len(c.want), ctx.Err())
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		if fs.NumRecords() > 0 {
			last = time.Now()
		}
		fs.EachRecord(func(r *kgo.Record) { c.add(t, r.Value) })
	}
}

// duplicates is the number of results beyond the first of each window.
func (c *windowCheck) duplicates() int {
	n := 0
	for _, s := range c.seen {
		n += s - 1
	}
	return n
}

// missing lists the windows of want that never came out.
func (c *windowCheck) missing() []window {
	var m []window
	for w := range c.want {
		if c.seen[w] == 0 {
			m = append(m, w)
		}
	}
	return m
}

// verdict fails t for wrong results and missing windows, and returns the
// figures, for the test's summary line.
func (c *windowCheck) verdict(t *testing.T) string {
	t.Helper()
	missing := c.missing()
	if c.wrong != 0 {
		t.Errorf("%d results with a wrong count", c.wrong)
	}
	if len(missing) != 0 {
		t.Errorf("%d windows never came out, such as %v", len(missing), missing[:min(len(missing), 10)])
	}
	return fmt.Sprintf("windows=%d out=%d duplicates=%d wrong=%d missing=%d", len(c.want), c.out, c.duplicates(), c.wrong, len(missing))
}

// completeOrQuiet is a read's end for a run whose results come
// steadily: every window came out, or no result came for d.
func (c *windowCheck) completeOrQuiet(d time.Duration) func(last time.Time) bool {
	return func(last time.Time) bool { return c.found == len(c.want) || time.Since(last) >= d }
}

// closeWindows produces, to each of partitions partitions of topic, a
// record in 2100: once read, the watermark passes every window of the
// input, so they all come out (the watermark moves with record
// timestamps only, and each partition holds it back).
func closeWindows(ctx context.Context, t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for p := range partitions {
		recs = append(recs, &kgo.Record{Partition: p, Key: []byte("closer"), Value: []byte(`{"user":"closer"}`), Timestamp: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}
