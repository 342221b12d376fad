package conformance_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/conformance"
	"github.com/streams-dev/streams/internal/childtest"
)

// Helpers of the task tests (tasks_test.go): the input, produced while
// faults happen, and the pipeline processes of one consumer group with
// the faults a deployment meets, applied on a schedule.

const (
	tasksKeys = 50                   // record keys k0 to k49
	tasksStep = 2 * time.Millisecond // event time between records
)

// feed is the task tests' input. Record i has the key k(i mod
// tasksKeys), which places it (kgo's default partitioner hashes keys as
// Kafka's does), and the timestamp base + i*tasksStep: each partition's
// timestamps increase, so an uncrashed run has no late record.
type feed struct {
	base time.Time
	n    int // records
	rate int // records a second
	// byPayload gives record i the payload k(i mod tasksKeys) and the
	// record key r(i mod 97) (the shuffle tests): each partition then has
	// records of every payload.
	byPayload bool
}

func (f feed) record(i int) *kgo.Record {
	key := []byte(fmt.Sprintf("k%d", i%tasksKeys))
	r := &kgo.Record{Key: key, Value: key, Timestamp: f.base.Add(time.Duration(i) * tasksStep)}
	if f.byPayload {
		r.Key = []byte(fmt.Sprintf("r%d", i%97))
	}
	return r
}

// want is what an uncrashed run gives: how many records of each key
// each window has.
func (f feed) want() map[window]int {
	size := conformance.TasksWindow.Milliseconds()
	want := map[window]int{}
	for i := range f.n {
		r := f.record(i)
		ms := r.Timestamp.UnixMilli()
		want[window{string(r.Value), ms - ms%size}]++
	}
	return want
}

// span is how long producing the input takes.
func (f feed) span() time.Duration { return time.Duration(f.n) * time.Second / time.Duration(f.rate) }

// produce writes the input through cl at f.rate records a second (so
// records are in flight whenever a fault comes), then waits until every
// record is written. It returns the partition of each key.
func (f feed) produce(ctx context.Context, cl *kgo.Client) (map[string]int32, error) {
	var mu sync.Mutex
	var failed error
	parts := map[string]int32{}
	done := func(r *kgo.Record, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil && failed == nil {
			failed = err
		}
		parts[string(r.Value)] = r.Partition
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < f.n; {
		for due := min(f.n, int(time.Since(start).Seconds()*float64(f.rate))); i < due; i++ {
			cl.Produce(ctx, f.record(i), done)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	return parts, failed
}

// fleet is the pipeline processes of one consumer group, each on a state
// directory of its own. One goroutine, the test's, calls its methods.
type fleet struct {
	t            *testing.T
	spec         func(stateDir string) string
	adm          *kadm.Client
	addr         string // the broker's
	group, topic string
	parts        int       // the topic's partitions
	shuffles     []watched // the groups of the shuffle topics
	members      []*member
	removing     sync.WaitGroup // members stopping after SIGTERM

	// What happened, for the summary line.
	kills, moving, empty, added, removed, sweeps int
}

type member struct {
	child *childtest.Child
	dir   string // state directory
}

func (f *fleet) start(dir string) *member {
	return &member{child: conformance.StartPipeline(f.t, f.spec(dir)), dir: dir}
}

// add starts one more member, on an empty state directory.
func (f *fleet) add() { f.members = append(f.members, f.start(f.t.TempDir())) }

// crash kills member i with SIGKILL and restarts it at once: on its state
// directory, or on a new empty one when empty (a replacement machine).
// The dead member keeps its partitions until its session expires.
func (f *fleet) crash(ctx context.Context, i int, empty bool) {
	m := f.members[i]
	if killWhileMoving(ctx, f.t, m.child, f.adm, f.group, f.topic) {
		f.moving++
	}
	f.kills++
	dir := m.dir
	if empty {
		dir = f.t.TempDir()
		f.empty++
	}
	f.members[i] = f.start(dir)
}

// remove stops member i with SIGTERM, as a scale-down does, and does not
// wait for it: it leaves the group while the others go on. wait waits
// for it.
func (f *fleet) remove(i int) {
	m := f.members[i]
	f.members = slices.Delete(f.members, i, i+1)
	f.removed++
	f.removing.Add(1)
	go func() {
		defer f.removing.Done()
		// A process killed by a signal before it could handle one (its
		// start, under load, takes a second or more) is no clean stop to
		// test: a scale-down waits for it to run.
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(m.child.Stderr(), "starting pipeline") && !m.child.Exited() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if !m.child.Terminate(f.t, time.Minute) || m.child.ExitCode() != 0 {
			f.t.Errorf("a member stopped with SIGTERM did not end cleanly within a minute (exit %d):\n%s", m.child.ExitCode(), m.child.Stderr())
		}
	}()
}

// wait waits for the removed members to end.
func (f *fleet) wait() { f.removing.Wait() }

// alive returns an error when a member ended by itself: its pipeline
// failed.
func (f *fleet) alive() error {
	for _, m := range f.members {
		if m.child.Exited() {
			return fmt.Errorf("a pipeline process ended by itself (exit %d):\n%s", m.child.ExitCode(), m.child.Stderr())
		}
	}
	return nil
}

// faultKind is what a fault does to the fleet.
type faultKind int

const (
	crash      faultKind = iota // SIGKILL a member, restart it at once
	crashEmpty                  // the same, on an empty state directory
	grow                        // start one more member
	shrink                      // SIGTERM a member
)

// fault is one step of a fault schedule, at a moment after it starts.
type fault struct {
	at   time.Duration
	kind faultKind
}

// run applies schedule, each fault at its moment whatever the group is
// doing (no waiting for calm between faults), on members rng picks.
func (f *fleet) run(ctx context.Context, schedule []fault, rng *rand.Rand) {
	f.t.Helper()
	start := time.Now()
	f.t.Logf("the fault schedule starts at %s", start.Format("15:04:05.000"))
	for _, ft := range schedule {
		select {
		case <-ctx.Done():
			f.t.Fatalf("fault schedule: %v", ctx.Err())
		case <-time.After(time.Until(start.Add(ft.at))):
		}
		if err := f.alive(); err != nil {
			f.t.Fatal(err)
		}
		switch i := rng.IntN(len(f.members)); ft.kind {
		case crash, crashEmpty:
			f.t.Logf("%v: kill -9 member %d, restart it at once (empty disk: %v)", ft.at, i, ft.kind == crashEmpty)
			f.crash(ctx, i, ft.kind == crashEmpty)
		case grow:
			f.t.Logf("%v: add member %d", ft.at, len(f.members))
			f.add()
			f.added++
		case shrink:
			f.t.Logf("%v: stop member %d with SIGTERM", ft.at, i)
			f.remove(i)
		}
	}
}

// String is the summary of the faults.
func (f *fleet) String() string {
	return fmt.Sprintf("kills=%d while moving=%d empty-disk restarts=%d added=%d removed=%d sweeps=%d", f.kills, f.moving, f.empty, f.added, f.removed, f.sweeps)
}

// between is a random duration in [from, to), or from when the range is
// empty (a tiny input).
func between(rng *rand.Rand, from, to time.Duration) time.Duration {
	if to <= from {
		return from
	}
	return from + time.Duration(rng.Int64N(int64(to-from)))
}

// chaosSchedule is the chaos test's faults while the input is produced
// (span): a burst of three crashes inside one session timeout (10 s), two
// more crashes, at least one of the five on an empty state directory, a
// member added and one removed; the moments are random.
func chaosSchedule(rng *rand.Rand, span time.Duration) []fault {
	burst := between(rng, span/10, span/2)
	s := []fault{
		{burst, crash},
		{burst + between(rng, 300*time.Millisecond, 3*time.Second), crash},
		{burst + between(rng, 300*time.Millisecond, 6*time.Second), crash},
		{between(rng, span/10, span), crash},
		{between(rng, span/10, span), crash},
		{between(rng, span/10, span), grow},
		{between(rng, span/10, span), shrink},
	}
	s[rng.IntN(5)].kind = crashEmpty
	for i := range 5 {
		if rng.IntN(4) == 0 {
			s[i].kind = crashEmpty
		}
	}
	slices.SortFunc(s, func(a, b fault) int { return int(a.at - b.at) })
	return s
}

// crashLoopSchedule is the crash-loop test's faults: four crashes within
// a few seconds, each run living 0.3 to 1.2 s, the first after 1 to 2 s.
func crashLoopSchedule(rng *rand.Rand, _ time.Duration) []fault {
	at := between(rng, time.Second, 2*time.Second)
	var s []fault
	for range 4 {
		s = append(s, fault{at, crash})
		at += between(rng, 300*time.Millisecond, 1200*time.Millisecond)
	}
	return s
}
