package conformance_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/conformance"
	"github.com/streams-dev/streams/devbroker"
)

// The task tests of issue 14: windowed counts per Kafka record key
// (conformance.TasksSpec, a Reduce whose key follows the partitioning),
// read from four partitions by a consumer group of pipeline processes
// with durable state, while processes are killed, restarted, added and
// removed as in production, faults piling up (several inside one session
// timeout, restarts on an empty disk, partitions moving with records in
// flight). Each window of each key must come out with exactly the count
// of an uncrashed run, at least once; nothing may be late or go to the
// dead-letter topic.
//
// STREAMS_TASKS_SEED replays a run's fault schedule (each run logs its
// seed); STREAMS_TASKS_RECORDS sets the number of input records.

// tasksPartitions is the number of partitions of the input topic.
const tasksPartitions = 4

// TestTasksUncrashed is the task tests' control: three processes that
// hold their partitions before the input comes, and no fault. It shows
// that the comparison, the input's timestamps and the closing of the
// windows give exact results when nothing happens.
func TestTasksUncrashed(t *testing.T) {
	runTasks(t, "uncrashed", 3, true, tasksKeyed, nil)
}

// TestTasksChaos is test A of issue 14: three processes, then a random
// schedule of kill -9 with an immediate restart (a burst of three within
// one session timeout, some on an empty state directory), a fourth
// process added and one stopped with SIGTERM, while the input is
// produced. The results must equal an uncrashed run's.
func TestTasksChaos(t *testing.T) {
	runTasks(t, "chaos", 3, false, tasksKeyed, chaosSchedule)
}

// TestTasksCrashLoop is test B of issue 14: one process, killed with
// kill -9 four times within a few seconds and restarted at once each
// time (the dead members hold partitions until their sessions expire),
// then left to finish. The results must equal an uncrashed run's.
func TestTasksCrashLoop(t *testing.T) {
	runTasks(t, "crash loop", 1, false, tasksKeyed, crashLoopSchedule)
}

// TestShuffleChaos is the first test of issue 15: the counts of a Reduce
// keyed by the payload, which the record keys (and the partitions) do
// not follow, so its input goes through the shuffle topic, under
// TestTasksChaos's faults. The results must equal an uncrashed run's:
// the shuffle's readers drop what a restored writer writes again.
func TestShuffleChaos(t *testing.T) {
	runTasks(t, "shuffle chaos", 3, false, tasksShuffled, chaosSchedule)
}

// TestTasksChaosExactlyOnce is the windowed test of issue 16:
// TestTasksChaos with processing_guarantee exactly_once. A
// read_committed reader must see each window of each key exactly once,
// with the uncrashed count: kills, restarts on an empty disk and
// rebalances abort transactions, and the tasks go on from the state
// their changelogs committed with the offsets.
func TestTasksChaosExactlyOnce(t *testing.T) {
	runTasks(t, "chaos exactly-once", 3, false, tasksExactlyOnce, chaosSchedule)
}

// tasksKind is the pipeline of a task test.
type tasksKind int

const (
	tasksKeyed       tasksKind = iota // counts keyed by the record key
	tasksShuffled                     // keyed by the payload: a shuffle
	tasksExactlyOnce                  // tasksKeyed, exactly-once
)

// runTasks runs one task test: members processes (once they hold every
// partition, when settle), the input produced at a steady rate while
// the faults of plan come, then records that close every window, and
// the comparison.
func runTasks(t *testing.T, name string, members int, settle bool, kind tasksKind, plan func(*rand.Rand, time.Duration) []fault) {
	in := tasksInput(t)
	shuffled := kind == tasksShuffled
	in.byPayload = shuffled
	spec := conformance.TasksSpec
	switch kind {
	case tasksShuffled:
		spec = conformance.ShuffleTasksSpec
	case tasksExactlyOnce:
		spec = conformance.TasksSpecExactlyOnce
	}
	seed := uint64(envInt(t, "STREAMS_TASKS_SEED", int(time.Now().UnixNano())))
	if plan != nil {
		t.Logf("seed %d (STREAMS_TASKS_SEED=%d replays the fault schedule)", seed, seed)
	}
	rng := rand.New(rand.NewPCG(seed, 14))
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(tasksPartitions), devbroker.Topics("tasks-in", "tasks-out", "tasks-dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("tasks-in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	f := &fleet{t: t, adm: kadm.NewClient(cl), addr: b.Addr(), group: "tasks-group", topic: "tasks-in", parts: tasksPartitions, spec: func(dir string) string {
		return spec(b.Addr(), "tasks-in", "tasks-out", "tasks-dlq", "tasks-group", dir)
	}}
	if shuffled {
		f.shuffles = []watched{{"tasks-group-count-shuffle", "tasks-group-count-shuffle", tasksPartitions}}
	}
	defer f.wait() // a removed member's goroutine reports to t
	for range members {
		f.add()
	}
	if settle {
		f.settle(ctx)
	}

	type production struct {
		parts map[string]int32 // the partition of each key
		err   error
	}
	produced := make(chan production, 1)
	go func() {
		parts, err := in.produce(ctx, cl)
		produced <- production{parts, err}
	}()
	if plan != nil {
		f.run(ctx, plan(rng, in.span()), rng)
	}
	p := <-produced
	if p.err != nil {
		t.Fatalf("producing the input: %v", p.err)
	}
	f.wait()
	closeWindows(ctx, t, b.Addr(), "tasks-in", tasksPartitions)

	// Until no result will come any more, even once every window came
	// out: a wrong or late one may still come.
	check := newWindowCheck(in.want())
	check.committed = kind == tasksExactlyOnce
	check.read(ctx, t, b.Addr(), "tasks-out", f.calm(ctx, 10*time.Second, "tasks-dlq"), f.alive)
	dlq, late := deadLetters(ctx, t, f.adm, b.Addr(), "tasks-dlq")
	msg := fmt.Sprintf("tasks %s: seed=%d in=%d %s dlq=%d late=%d %v", name, seed, in.n, check.verdict(t), dlq, late, f)
	t.Log(msg)
	fmt.Println(msg)
	if dlq != 0 {
		t.Errorf("%d records in the dead-letter topic, %d of them late, want none", dlq, late)
	}
	if n := check.duplicates(); check.committed && n != 0 {
		t.Errorf("exactly-once: %d windows came out more than once, want none", n)
	}
	if f.moving != f.kills {
		t.Errorf("%d of the %d kills landed while records were moving, want all", f.moving, f.kills)
	}
	if t.Failed() {
		t.Logf("missing windows by partition: %v", missingByPartition(check.missing(), p.parts))
		for _, w := range f.groups() {
			t.Logf("at the end: %s: %s", w.group, groupState(ctx, f.adm, w.group, w.topic))
		}
	}
}

// tasksInput is the task tests' input: 60,000 records (20,000 with
// -short; STREAMS_TASKS_RECORDS sets it), 4,000 a second, timestamps
// from three hours ago.
func tasksInput(t *testing.T) feed {
	n := 60_000
	if testing.Short() {
		n = 20_000
	}
	return feed{base: time.Now().Add(-3 * time.Hour), n: envInt(t, "STREAMS_TASKS_RECORDS", n), rate: 4_000}
}

// deadLetters counts the records of the dead-letter topic, and those of
// them that a Reduce judged late.
func deadLetters(ctx context.Context, t *testing.T, adm *kadm.Client, addr, topic string) (all, late int) {
	t.Helper()
	for _, r := range readTopic(ctx, t, adm, addr, topic) {
		all++
		for _, h := range r.Headers {
			if h.Key == beamtranslate.HeaderDLQError && strings.HasPrefix(string(h.Value), "late") {
				late++
			}
		}
	}
	return all, late
}

// envInt is the integer in environment variable name, or def when it is
// unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// missingByPartition counts the missing windows of each partition.
func missingByPartition(missing []window, parts map[string]int32) map[int32]int {
	n := map[int32]int{}
	for _, w := range missing {
		n[parts[w.key]]++
	}
	return n
}
