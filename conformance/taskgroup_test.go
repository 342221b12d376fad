package conformance_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// How the task tests watch their consumer group: whether it holds every
// partition with the fleet's members, when no more results will come, and
// the sweep of dead members the test broker forgets to expire.

// sweepAfter is how long the group may stay stable with more members than
// the fleet has processes before the fleet sweeps it. Kafka expires a dead
// member after its session timeout (10 s).
const sweepAfter = 15 * time.Second

// watched is a consumer group of the fleet's processes and the topic
// it reads: the input's group, and the group of each shuffle topic.
type watched struct {
	group, topic string
	parts        int // the topic's partitions
}

// groups are the consumer groups the fleet's processes are members of.
func (f *fleet) groups() []watched {
	return append([]watched{{f.group, f.topic, f.parts}}, f.shuffles...)
}

// describe is group as the broker sees it.
func (f *fleet) describe(ctx context.Context, group string) (kadm.DescribedGroup, bool) {
	gs, err := f.adm.DescribeGroups(ctx, group)
	g, ok := gs[group]
	return g, err == nil && ok && g.Err == nil
}

// holds reports whether g is stable with as many members as the fleet has
// processes (no dead one left) and they hold all of w's topic's
// partitions.
func (f *fleet) holds(g kadm.DescribedGroup, w watched) bool {
	if g.State != "Stable" || len(g.Members) != len(f.members) {
		return false
	}
	held := 0
	for _, m := range g.Members {
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range c.Topics {
				if tp.Topic == w.topic {
					held += len(tp.Partitions)
				}
			}
		}
	}
	return held == w.parts
}

// holdsAll reports whether every group of the fleet holds its topic.
func (f *fleet) holdsAll(ctx context.Context) bool {
	for _, w := range f.groups() {
		if g, ok := f.describe(ctx, w.group); !ok || !f.holds(g, w) {
			return false
		}
	}
	return true
}

// settle waits until the groups hold every partition with the fleet's
// members: no partition moves any more.
func (f *fleet) settle(ctx context.Context) {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !f.holdsAll(ctx) {
		if err := f.alive(); err != nil {
			f.t.Fatal(err)
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("group %s: %d members do not hold its %d partitions after a minute", f.group, len(f.members), f.parts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// calm is a read's end for the task tests: no more results will come once
// the group has held every partition with the fleet's members, and no
// result nor dead letter (in dlq) came, for d. Until then a dead member
// may hold partitions (till its session expires, or a rebalance it was
// part of times out) and partitions move. A group that stays stable with
// dead members for sweepAfter is swept meanwhile.
func (f *fleet) calm(ctx context.Context, d time.Duration, dlq string) func(last time.Time) bool {
	var since, lettered time.Time     // held since; the dead letters last changed
	crowded := map[string]time.Time{} // per group: crowded since
	letters := int64(-1)
	return func(last time.Time) bool {
		held := true
		for _, w := range f.groups() {
			g, ok := f.describe(ctx, w.group)
			switch {
			case ok && g.State == "Stable" && len(g.Members) > len(f.members):
				if crowded[w.group].IsZero() {
					crowded[w.group] = time.Now()
				}
				if time.Since(crowded[w.group]) >= sweepAfter {
					f.sweep(ctx, w.group, len(g.Members)-len(f.members))
					delete(crowded, w.group)
				}
			default:
				delete(crowded, w.group)
			}
			held = held && ok && f.holds(g, w)
		}
		if !held {
			since = time.Time{}
			return false
		}
		if since.IsZero() {
			since = time.Now()
		}
		if n := endSum(ctx, f.adm, dlq); n != letters {
			letters, lettered = n, time.Now()
		}
		for _, at := range []time.Time{since, lettered} {
			if at.After(last) {
				last = at
			}
		}
		return time.Since(last) >= d
	}
}

// sweep removes the dead members of a stable group as Kafka would have
// when their sessions expired: it makes the group rebalance (a member
// joins, then leaves), and a rebalance drops the members that do not
// rejoin. kfake forgets to expire a member that died while it waited in
// a rebalance: the response to its join cannot be delivered, and only a
// delivered response starts a member's session timer, so once the leader
// has synced the group is stable with the dead member in it, holding the
// partitions it was given, for good.
func (f *fleet) sweep(ctx context.Context, group string, dead int) {
	f.t.Helper()
	f.t.Logf("group %s has kept %d dead members for %v: sweeping them, as their sessions' expiry would", group, dead, sweepAfter)
	f.sweeps++
	// The sweeper reads a topic of its own, so it takes none of the
	// fleet's partitions.
	topic := group + "-sweeper"
	if _, err := f.adm.CreateTopic(ctx, 1, -1, nil, topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		f.t.Fatalf("sweeper topic: %v", err)
	}
	var once sync.Once
	joined := make(chan struct{})
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(10*time.Second), kgo.RebalanceTimeout(20*time.Second), // as the fleet's (TasksSpec)
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { once.Do(func() { close(joined) }) }))
	if err != nil {
		f.t.Fatal(err)
	}
	defer cl.Close() // leaves the group
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case <-joined:
			return
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			f.t.Fatalf("the sweeper did not join group %s in a minute", group)
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		cl.PollFetches(pctx)
		cancel()
	}
}

// groupState describes, for a failing test's log, which member holds
// which partition of topic, and how far group committed each.
func groupState(ctx context.Context, adm *kadm.Client, group, topic string) string {
	var b strings.Builder
	if gs, err := adm.DescribeGroups(ctx, group); err == nil {
		g := gs[group]
		fmt.Fprintf(&b, "group %s, %d members:", g.State, len(g.Members))
		for _, m := range g.Members {
			if c, ok := m.Assigned.AsConsumer(); ok {
				for _, tp := range c.Topics {
					fmt.Fprintf(&b, " %s %v;", m.MemberID, tp.Partitions)
				}
			}
		}
	}
	ends, err1 := adm.ListEndOffsets(ctx, topic)
	offs, err2 := adm.FetchOffsets(ctx, group)
	if err1 == nil && err2 == nil {
		ends.Each(func(o kadm.ListedOffset) {
			c, _ := offs.Lookup(o.Topic, o.Partition)
			fmt.Fprintf(&b, " p%d end %d committed %d;", o.Partition, o.Offset, c.At)
		})
	}
	return b.String()
}
