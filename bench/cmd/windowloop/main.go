// Command windowloop is the stateful benchmark's baseline: the work of the
// windowed pipeline (package bench/internal/window: parse JSON, count and
// sum per key in 10-second tumbling windows of the record timestamp,
// write each result as JSON) written by hand with franz-go, with the
// state in a map and no durability.
//
// It consumes with a consumer group and keeps a watermark: the minimum
// over its assigned partitions of the newest record timestamp seen (no
// allowance for out-of-order records). When the watermark reaches a
// window's end, the window's results are produced and the window is
// forgotten; a record of a window already emitted is late, dropped and
// counted. Offsets are committed whenever a window's results have all been
// acknowledged, and then per partition only up to the first record of the
// oldest window not yet emitted and acknowledged: what is committed has
// its results written. State is lost when the process stops; the open
// windows' records, uncommitted, are read again by the next run. It is
// meant to run as the group's only member: on a rebalance, the records of
// a revoked partition already counted stay in the open windows.
// SIGINT or SIGTERM stops it after a final commit.
//
//	windowloop -brokers 127.0.0.1:9092 -topic in -group g -output out
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/window"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated seed `brokers`")
	topic := flag.String("topic", window.InputTopic, "input `topic`")
	group := flag.String("group", "windowloop", "consumer `group`")
	output := flag.String("output", window.OutputTopic, "output `topic`")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, strings.Split(*brokers, ","), *topic, *group, *output); err != nil {
		fmt.Fprintln(os.Stderr, "windowloop:", err)
		os.Exit(1)
	}
}

// bucket is one window's state: the aggregates by key, and per partition
// the position of the window's first record, below which the partition
// may be committed.
type bucket struct {
	start int64 // Unix milliseconds
	stats map[string]*window.Stats
	first map[int32]kgo.EpochOffset

	// Once emitted: the acknowledgements of its results.
	acks harness.Acks
}

// partition is what the loop knows of an assigned partition.
type partition struct {
	maxTS     int64           // newest record timestamp, Unix ms; math.MinInt64 before the first
	next      kgo.EpochOffset // after the last record consumed
	committed int64           // offset last committed
}

// assignment is the set of assigned partitions, kept by the group's
// callbacks, which run beside the loop.
type assignment struct {
	mu    sync.Mutex
	parts map[int32]bool
}

func (a *assignment) set(topic string, ps map[string][]int32, on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ps[topic] {
		if on {
			a.parts[p] = true
		} else {
			delete(a.parts, p)
		}
	}
}

func (a *assignment) list() []int32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Collect(maps.Keys(a.parts))
}

// loop is the consumer's state, used by its goroutine only.
type loop struct {
	cl        *kgo.Client
	topic     string
	assigned  *assignment
	parts     map[int32]*partition
	open      map[int64]*bucket // by window start
	emitted   []*bucket         // results produced, not all acknowledged
	watermark int64             // Unix ms
	late      int64
}

func run(ctx context.Context, brokers []string, topic, group, output string) error {
	a := &assignment{parts: make(map[int32]bool)}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { a.set(topic, ps, true) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { a.set(topic, ps, false) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { a.set(topic, ps, false) }),
		kgo.DefaultProduceTopic(output),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	l := &loop{cl: cl, topic: topic, assigned: a,
		parts: make(map[int32]*partition), open: make(map[int64]*bucket), watermark: math.MinInt64}

	for {
		// A short poll, so that acknowledgements are committed while the
		// input is quiet.
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		fetches := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			break
		}
		if fetches.IsClientClosed() {
			return errors.New("client closed")
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = errors.Join(ferr, fmt.Errorf("fetch %s[%d]: %w", t, p, err))
			}
		})
		if ferr != nil {
			return ferr
		}
		var perr error
		fetches.EachRecord(func(r *kgo.Record) {
			if err := l.add(r); err != nil && perr == nil {
				perr = err
			}
		})
		if perr != nil {
			return perr
		}
		if err := l.advance(ctx); err != nil {
			return err
		}
		if err := l.commit(ctx); err != nil {
			return err
		}
	}

	// Stop: wait for the results produced, commit what they cover.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Flush(sctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if l.late > 0 {
		fmt.Fprintf(os.Stderr, "windowloop: dropped %d late records\n", l.late)
	}
	return l.commit(sctx)
}

// add counts record r into its window, unless the window was emitted.
func (l *loop) add(r *kgo.Record) error {
	p := l.parts[r.Partition]
	if p == nil {
		p = &partition{maxTS: math.MinInt64, committed: -1}
		l.parts[r.Partition] = p
	}
	p.next = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	ts := r.Timestamp.UnixMilli()
	p.maxTS = max(p.maxTS, ts)
	e, err := window.Parse(r.Value)
	if err != nil {
		return fmt.Errorf("%s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	start := window.StartMilli(ts)
	if start+window.Size.Milliseconds() <= l.watermark {
		l.late++
		return nil
	}
	b := l.open[start]
	if b == nil {
		b = &bucket{start: start, stats: make(map[string]*window.Stats), first: make(map[int32]kgo.EpochOffset)}
		l.open[start] = b
	}
	if _, ok := b.first[r.Partition]; !ok {
		b.first[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset}
	}
	s := b.stats[e.Key]
	if s == nil {
		s = new(window.Stats)
		b.stats[e.Key] = s
	}
	*s = s.Add(e)
	return nil
}

// advance moves the watermark to the minimum over the assigned partitions
// of their newest timestamps, and emits the windows it has passed, oldest
// first. Until every assigned partition has delivered a record the
// watermark stays where it is.
func (l *loop) advance(ctx context.Context) error {
	wm := int64(math.MaxInt64)
	assigned := l.assigned.list()
	for _, id := range assigned {
		p := l.parts[id]
		if p == nil {
			return nil
		}
		wm = min(wm, p.maxTS)
	}
	if len(assigned) == 0 || wm <= l.watermark {
		return nil
	}
	l.watermark = wm
	size := window.Size.Milliseconds()
	var due []int64
	for start := range l.open {
		if start+size <= wm {
			due = append(due, start)
		}
	}
	slices.Sort(due)
	for _, start := range due {
		if err := l.emit(ctx, l.open[start]); err != nil {
			return err
		}
		delete(l.open, start)
	}
	return nil
}

// emit produces the results of window b.
func (l *loop) emit(ctx context.Context, b *bucket) error {
	start := time.UnixMilli(b.start).UTC()
	end := start.Add(window.Size)
	b.acks.Add(len(b.stats))
	for k, s := range b.stats {
		v, err := json.Marshal(window.Result{Key: k, Start: start, End: end, Value: *s})
		if err != nil {
			return err
		}
		l.cl.Produce(ctx, &kgo.Record{Key: []byte(k), Value: v, Timestamp: end.Add(-time.Millisecond)}, b.acks.Done)
	}
	b.stats = nil
	l.emitted = append(l.emitted, b)
	return nil
}

// commit forgets the emitted windows whose results are all acknowledged
// and, if there were any, commits per partition up to the first record of the oldest window
// still open or unacknowledged, or everything consumed if none holds it.
func (l *loop) commit(ctx context.Context) error {
	var pending []*bucket
	for _, b := range l.emitted {
		done, err := b.acks.Settled()
		if err != nil {
			return err
		}
		if !done {
			pending = append(pending, b)
		}
	}
	if len(pending) == len(l.emitted) {
		return nil // nothing newly acknowledged
	}
	l.emitted = pending
	holding := slices.Concat(slices.Collect(maps.Values(l.open)), pending)
	offsets := make(map[int32]kgo.EpochOffset)
	for id, p := range l.parts {
		at := p.next
		for _, b := range holding {
			if f, ok := b.first[id]; ok && f.Offset < at.Offset {
				at = f
			}
		}
		if at.Offset > p.committed {
			offsets[id] = at
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	var cerr error
	l.cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{l.topic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					cerr = errors.Join(cerr, kerr.ErrorForCode(p.ErrorCode))
				}
			}
		})
	if cerr != nil {
		return fmt.Errorf("commit: %w", cerr)
	}
	for id, at := range offsets {
		l.parts[id].committed = at.Offset
	}
	return nil
}
