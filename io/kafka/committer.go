package kafka

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	// commitInterval is the least time between two commit requests of one
	// DoFn instance; offsets noted meanwhile go in the next request.
	commitInterval = time.Second
	// commitTimeout bounds one commit request.
	commitTimeout = 10 * time.Second
)

// committer commits read positions to a consumer group in the background,
// in batches, at most one request per commitInterval, so that reading never
// waits for a commit. Positions only move forward: a lower offset than one
// already noted for a partition is ignored.
//
// It owns one goroutine, started by the first note and ended by close,
// which waits for it after a last commit.
type committer struct {
	group string
	opts  []kgo.Opt

	mu      sync.Mutex
	want    map[topicPartition]int64 // latest positions noted
	done    map[topicPartition]int64 // positions committed
	started bool
	closed  bool
	wake    chan struct{} // buffered: a note is waiting
	stop    chan struct{} // closed by close
	exited  chan struct{} // closed when the goroutine returns
}

func newCommitter(group string, opts []kgo.Opt) *committer {
	return &committer{
		group:  group,
		opts:   opts,
		want:   make(map[topicPartition]int64),
		done:   make(map[topicPartition]int64),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
}

// note asks for tp's position to be committed as off.
func (c *committer) note(tp topicPartition, off int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if cur, ok := c.want[tp]; ok && off <= cur {
		return
	}
	c.want[tp] = off
	if !c.started {
		c.started = true
		go c.run()
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *committer) run() {
	defer close(c.exited)
	var adm *kadm.Client
	defer func() {
		if adm != nil {
			adm.Close()
		}
	}()
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			c.commit(&adm) // the last positions noted
			return
		}
		c.commit(&adm)
		select {
		case <-time.After(commitInterval):
		case <-c.stop:
			c.commit(&adm)
			return
		}
	}
}

// commit sends every noted position not yet committed, creating the
// client on first use. A failure is logged and retried at the next wake-up.
func (c *committer) commit(adm **kadm.Client) {
	offsets := make(kadm.Offsets)
	c.mu.Lock()
	for tp, off := range c.want {
		if done, ok := c.done[tp]; !ok || off > done {
			offsets.Add(kadm.Offset{Topic: tp.topic, Partition: tp.partition, At: off, LeaderEpoch: -1})
		}
	}
	c.mu.Unlock()
	if len(offsets) == 0 {
		return
	}
	if err := c.send(adm, offsets); err != nil {
		log.Warnf(context.Background(), "%v", err)
		select { // retry with the next batch
		case c.wake <- struct{}{}:
		default:
		}
	}
}

func (c *committer) send(adm **kadm.Client, offsets kadm.Offsets) error {
	if *adm == nil {
		cl, err := kgo.NewClient(c.opts...)
		if err != nil {
			return &PartitionError{Op: "commit", Partition: -1, Offset: -1, Err: err}
		}
		*adm = kadm.NewClient(cl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	resps, err := (*adm).CommitOffsets(ctx, c.group, offsets)
	var errs []error
	if err != nil {
		offsets.Each(func(o kadm.Offset) {
			errs = append(errs, &PartitionError{Op: "commit", Topic: o.Topic, Partition: o.Partition, Offset: o.At, Err: err})
		})
		return errors.Join(errs...)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	resps.Each(func(r kadm.OffsetResponse) {
		if r.Err != nil {
			errs = append(errs, &PartitionError{Op: "commit", Topic: r.Topic, Partition: r.Partition, Offset: r.At, Err: r.Err})
			return
		}
		tp := topicPartition{r.Topic, r.Partition}
		if done, ok := c.done[tp]; !ok || r.At > done {
			c.done[tp] = r.At
		}
	})
	return errors.Join(errs...)
}

// close commits what was noted and stops the goroutine, waiting for it. It
// is idempotent.
func (c *committer) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	started := c.started
	c.mu.Unlock()
	close(c.stop)
	if started {
		<-c.exited
	}
}
