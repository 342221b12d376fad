package localrunner_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/internal/childtest"
)

// TestKafkaNativeRebalanceInFlight moves a partition away from a process
// while it works through a backlog on it: the first process takes both
// partitions of a backlog it needs seconds to get through (a slow step),
// and a second process joins the group in the middle of it; Kafka
// revokes one partition from the first (cooperative rebalance) with
// records read and unfinished. Every record must come out (duplicates
// allowed), the commits at the rebalance must not be past the output,
// the commits must reach the end, and the revoked partition must have
// been worked on by both processes, the second taking over records the
// first never finished.
func TestKafkaNativeRebalanceInFlight(t *testing.T) {
	const n = 3000
	c, cl, adm := kafkaCluster(t)
	produce(t, cl, "r", n)
	spec := func(member string) string {
		s, _ := json.Marshal(kafkaChildSpec{Brokers: c.ListenAddrs(), Group: "g5", Member: member, Delay: 20 * time.Millisecond})
		return string(s)
	}
	o := newOutReader(t, c.ListenAddrs())

	a := childtest.Start(t, spec("a"))
	waitFor(t, "the first process's first output", time.Minute, func() bool { o.poll(); return o.count("a") >= 20 })
	b := childtest.Start(t, spec("b"))
	assigned := regexp.MustCompile(`kafka partitions assigned.*partitions=map\[in:\[(\d)\]\]`)
	var moved int32
	waitFor(t, "the second process to get a partition", time.Minute, func() bool {
		m := assigned.FindStringSubmatch(b.Stderr())
		if m == nil {
			return false
		}
		p, _ := strconv.Atoi(m[1])
		moved = int32(p)
		return true
	})
	// The commits now, then every output written by now: a commit must
	// not be past what came out.
	atRebalance := commits(context.Background(), adm, "g5")
	o.drain(ends(t, adm, "out"))
	checkNotPast(t, "at the rebalance", atRebalance, o.pos)
	if done := o.count("a"); done >= n {
		t.Fatalf("the first process had finished its backlog (%d outputs) before the rebalance", done)
	}

	end := ends(t, adm, "in")
	waitFor(t, "every record and the commits", 2*time.Minute, func() bool {
		o.poll()
		cm := commits(context.Background(), adm, "g5")
		return len(o.values) >= n && cm[0] == end[0] && cm[1] == end[1]
	})
	final := commits(context.Background(), adm, "g5")
	o.drain(ends(t, adm, "out"))
	checkNotPast(t, "at the end", final, o.pos)
	for i := range n {
		if o.values["r"+strconv.Itoa(i)] == 0 {
			t.Errorf("r%d missing", i)
		}
	}
	// The moved partition: the first process output some of its records,
	// the second the ones from the first's last commit on, some of which
	// the first never output: records in flight changed hands.
	byA, byB, takenOver := 0, 0, 0
	for _, members := range o.members[moved] {
		byA += members["a"]
		byB += members["b"]
		if members["b"] > 0 && members["a"] == 0 {
			takenOver++
		}
	}
	if byA == 0 || takenOver == 0 {
		t.Errorf("partition %d, revoked from the first process: %d outputs by the first, %d by the second, %d records only by the second; want some by the first and some taken over", moved, byA, byB, takenOver)
	}
	for name, ch := range map[string]*childtest.Child{"first": a, "second": b} {
		if ch.Exited() {
			t.Errorf("%s process exited: %s", name, ch.Stderr())
		}
	}
	if !strings.Contains(a.Stderr(), "kafka partitions revoked") {
		t.Errorf("the first process never had a partition revoked:\n%s", a.Stderr())
	}
	dups := 0
	for _, k := range o.values {
		dups += k - 1
	}
	t.Logf("%d records, %d duplicates; partition %d moved: %d outputs by the first process, %d by the second (%d taken over); commits at the rebalance %v, at the end %v",
		n, dups, moved, byA, byB, takenOver, atRebalance, final)
}

// outReader reads the "member@partition/offset=value" records of "out".
type outReader struct {
	t       *testing.T
	cl      *kgo.Client
	read    map[int32]int64                    // next offset to read, by partition of "out"
	values  map[string]int                     // outputs by value
	pos     map[int32]map[int64]int            // outputs by input partition and offset
	members map[int32]map[int64]map[string]int // outputs by input position and member
}

func newOutReader(t *testing.T, brokers []string) *outReader {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &outReader{t: t, cl: cl, read: map[int32]int64{}, values: map[string]int{},
		pos: map[int32]map[int64]int{}, members: map[int32]map[int64]map[string]int{}}
}

// poll reads what arrives within 100ms.
func (o *outReader) poll() {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	o.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
		o.read[r.Partition] = r.Offset + 1
		member, rest, _ := strings.Cut(string(r.Value), "@")
		po, v, _ := strings.Cut(rest, "=")
		ps, offs, _ := strings.Cut(po, "/")
		p, err1 := strconv.Atoi(ps)
		off, err2 := strconv.ParseInt(offs, 10, 64)
		if err1 != nil || err2 != nil {
			o.t.Errorf("output %q", r.Value)
			return
		}
		o.values[v]++
		if o.pos[int32(p)] == nil {
			o.pos[int32(p)], o.members[int32(p)] = map[int64]int{}, map[int64]map[string]int{}
		}
		o.pos[int32(p)][off]++
		if o.members[int32(p)][off] == nil {
			o.members[int32(p)][off] = map[string]int{}
		}
		o.members[int32(p)][off][member]++
	})
}

// drain polls until every partition of "out" is read up to upTo.
func (o *outReader) drain(upTo map[int32]int64) {
	o.t.Helper()
	waitFor(o.t, "the output to be read", time.Minute, func() bool {
		for p, e := range upTo {
			if o.read[p] < e {
				o.poll()
				return false
			}
		}
		return true
	})
}

// count is how many outputs member wrote.
func (o *outReader) count(member string) int {
	k := 0
	for _, byOff := range o.members {
		for _, ms := range byOff {
			k += ms[member]
		}
	}
	return k
}
