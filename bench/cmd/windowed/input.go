package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/window"
)

// The backlog's event time: record i has the timestamp backlogBase +
// i/backlogRate seconds, so backlogRate events per event-time second over
// the topic, backlogRate/partitions per partition.
var backlogBase = time.UnixMilli(1_700_000_000_000).UTC() // a window boundary

const backlogRate = 40_000

// closingTime is the timestamp of the closing record the backlog ends
// with in each partition: far beyond the events and the wall clock, so
// that it carries every watermark past the last window of events while
// its own window never closes.
var closingTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// input is what the benchmark produced to an input topic.
type input struct {
	events int // without the closing records
	want   window.Expected
	took   time.Duration
	// newest is the newest event timestamp of each partition.
	newest map[int32]time.Time
	// counts is the number of events of each partition: they are at
	// offsets 0 to counts-1 (a backlog's closing record at counts).
	counts map[int32]int64
}

// producer writes records to chosen partitions: event i goes to
// partition i % partitions, so its key (k<i % 10000>) always to the same
// one, and each partition's timestamps increase with its offsets.
type producer struct{ *harness.Producer }

func newProducer(brokers []string) (*producer, error) {
	p, err := harness.NewProducer(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return nil, err
	}
	return &producer{p}, nil
}

func (p *producer) close() { p.Close() }

// event produces event i with timestamp ts to topic and adds it to in.
func (p *producer) event(ctx context.Context, in *input, topic string, i int, ts time.Time) {
	e, v := window.Make(i)
	part := int32(i % partitions)
	p.Produce(ctx, &kgo.Record{Topic: topic, Partition: part, Key: []byte(e.Key), Value: v, Timestamp: ts})
	in.want.Add(e, ts)
	in.events++
	in.counts[part]++
	if ts.After(in.newest[part]) {
		in.newest[part] = ts
	}
}

// flush waits for every record produced and returns the errors.
func (p *producer) flush(ctx context.Context) error {
	if err := p.Flush(ctx); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

func newInput() *input {
	return &input{want: make(window.Expected), newest: make(map[int32]time.Time), counts: make(map[int32]int64)}
}

// produceBacklog writes n events with timestamps from backlogBase on, at
// backlogRate per event-time second, then a closing record per partition.
func produceBacklog(ctx context.Context, p *producer, topic string, n int) (*input, error) {
	in := newInput()
	start := time.Now()
	for i := range n {
		p.event(ctx, in, topic, i, backlogBase.Add(time.Duration(i)*time.Second/backlogRate))
	}
	for part := range int32(partitions) {
		v := []byte(`{"key":"closing","value":0}`)
		p.Produce(ctx, &kgo.Record{Topic: topic, Partition: part, Key: []byte("closing"), Value: v, Timestamp: closingTime})
	}
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	in.took = time.Since(start)
	return in, nil
}

// produceLive writes events at rate per second for d, each with the wall
// clock as its timestamp.
func produceLive(ctx context.Context, p *producer, topic string, rate int, d time.Duration) (*input, error) {
	in := newInput()
	start := time.Now()
	_, err := harness.Pace(ctx, rate, d, 5*time.Millisecond, func(i int) {
		p.event(ctx, in, topic, i, time.Now())
	})
	if err != nil {
		return nil, err
	}
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	in.took = time.Since(start)
	return in, nil
}

// committed is how many of the events offsets (a group's committed
// offsets) cover, and whether they cover every event.
func (in *input) committed(offsets map[int32]int64) (n int64, all bool) {
	all = true
	for p, c := range in.counts {
		n += min(offsets[p], c)
		all = all && offsets[p] >= c
	}
	return n, all
}

// closed returns the expected results of the windows that end by the
// oldest of the partitions' newest timestamps minus skew: those a
// watermark that trails the record timestamps by skew, without idleness,
// has passed. (The bundled runner's idle partitions keep their time
// unless watermark_idle_wall_clock is set, so a later window waits for
// more records.)
func (in *input) closed(skew time.Duration) window.Expected {
	var cutoff time.Time
	for _, t := range in.newest {
		if cutoff.IsZero() || t.Before(cutoff) {
			cutoff = t
		}
	}
	cutoff = cutoff.Add(-skew)
	out := make(window.Expected)
	for id, s := range in.want {
		if !id.Start.Add(window.Size).After(cutoff) {
			out[id] = s
		}
	}
	return out
}

// waitReady waits until pipeline pl reads topic: its group has a member
// per process (the bundled runner, the franz-go loop), or, for one
// process, committed offsets for topic (prism's Kafka read commits where
// it starts without joining).
func waitReady(ctx context.Context, adm *kadm.Client, pl *pipeline, topic string, limit time.Duration) error {
	deadline := time.After(limit)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("pipeline not reading after %v; last log lines:\n%s", limit, pl.logTail(20))
		case <-tick.C:
		}
		if err := pl.exited(); err != nil {
			return fmt.Errorf("before it started reading: %w", err)
		}
		groups, err := adm.DescribeGroups(ctx, pl.group)
		if err != nil {
			return err
		}
		if g, ok := groups[pl.group]; ok && g.Err == nil && g.State == "Stable" && len(g.Members) >= len(pl.procs) {
			return nil
		}
		if len(pl.procs) > 1 {
			continue
		}
		offsets, err := adm.FetchOffsets(ctx, pl.group)
		if err == nil {
			err = offsets.Error()
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return err
		}
		if len(offsets[topic]) > 0 {
			return nil
		}
	}
}
