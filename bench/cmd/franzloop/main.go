// Command franzloop is the benchmark's baseline: the seed pipeline's work
// (consume from a group, json.Unmarshal, filter, json.Marshal, produce)
// written by hand with franz-go. Offsets are committed at most every
// -commit-interval, and only once every record produced for them has been
// acknowledged. SIGINT or SIGTERM stops it after a final commit.
//
//	franzloop -brokers 127.0.0.1:9092 -topic in -group g -output out
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/seed"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "comma-separated seed `brokers`")
	topic := flag.String("topic", seed.InputTopic, "input `topic`")
	group := flag.String("group", "franzloop", "consumer `group`")
	output := flag.String("output", seed.OutputTopic, "output `topic`")
	interval := flag.Duration("commit-interval", time.Second, "least time between commits")
	linger := flag.Duration("linger", 10*time.Millisecond, "producer linger (franz-go's default: 10ms)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, strings.Split(*brokers, ","), *topic, *group, *output, *interval, *linger); err != nil {
		fmt.Fprintln(os.Stderr, "franzloop:", err)
		os.Exit(1)
	}
}

// epoch counts the records produced between two commit snapshots that
// are not yet acknowledged.
type epoch struct {
	acks harness.Acks
}

// pendingCommit holds the last record consumed from each partition when
// it was taken; it is committable once every epoch up to and including its
// own is acknowledged. Snapshots are committed in order, so waiting for
// its own epoch is enough.
type pendingCommit struct {
	last  map[int32]*kgo.Record
	epoch *epoch
}

func (p *pendingCommit) ready() (bool, error) {
	return p.epoch.acks.Settled()
}

func run(ctx context.Context, brokers []string, topic, group, output string, interval, linger time.Duration) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.DefaultProduceTopic(output),
		kgo.ProducerLinger(linger),
	)
	if err != nil {
		return err
	}
	defer cl.Close()

	cur := new(epoch)
	var pending []*pendingCommit
	lastSnap := time.Now()
	last := make(map[int32]*kgo.Record)
	// commit commits the ready pending snapshots, oldest first, merged
	// into one request; with wait it waits until all are ready.
	commit := func(ctx context.Context, wait bool) error {
		merged := make(map[int32]*kgo.Record)
		for len(pending) > 0 {
			ok, err := pending[0].ready()
			if err != nil {
				return err
			}
			if !ok {
				if !wait {
					break
				}
				time.Sleep(time.Millisecond)
				continue
			}
			for p, r := range pending[0].last {
				merged[p] = r
			}
			pending = pending[1:]
		}
		if len(merged) == 0 {
			return nil
		}
		recs := make([]*kgo.Record, 0, len(merged))
		for _, r := range merged {
			recs = append(recs, r)
		}
		if err := cl.CommitRecords(ctx, recs...); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}
	snapshot := func() {
		pending = append(pending, &pendingCommit{last: last, epoch: cur})
		last = make(map[int32]*kgo.Record)
		cur = new(epoch)
		lastSnap = time.Now()
	}

	for {
		// Poll no longer than until the next snapshot is due, and briefly
		// while a snapshot waits for acks: the input may have run dry.
		wait := max(interval-time.Since(lastSnap), time.Millisecond)
		if len(pending) > 0 {
			wait = min(wait, 5*time.Millisecond)
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
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
			if errors.Is(err, context.DeadlineExceeded) {
				return
			}
			ferr = errors.Join(ferr, fmt.Errorf("fetch %s[%d]: %w", t, p, err))
		})
		if ferr != nil {
			return ferr
		}
		var perr error
		fetches.EachRecord(func(r *kgo.Record) {
			last[r.Partition] = r
			e, err := seed.Parse(r.Value)
			if err != nil {
				perr = fmt.Errorf("%s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
				return
			}
			if !seed.Keep(e) {
				return
			}
			v, err := seed.Serialize(e)
			if err != nil {
				perr = err
				return
			}
			cur.acks.Add(1)
			cl.Produce(ctx, &kgo.Record{Key: r.Key, Value: v}, cur.acks.Done)
		})
		if perr != nil {
			return perr
		}
		if time.Since(lastSnap) >= interval {
			if len(last) > 0 {
				snapshot()
			} else {
				lastSnap = time.Now()
			}
		}
		if err := commit(ctx, false); err != nil {
			return err
		}
	}

	// Stop: wait for every produced record, then commit what was consumed.
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Flush(sctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	snapshot()
	return commit(sctx, true)
}
