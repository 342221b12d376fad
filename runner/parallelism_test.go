package runner

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/devbroker"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/childtest"
)

const parChildPrefix = "parallelism:"

// parSpec is what the parallelism child runs: parPipeline reading In and
// writing Out on Broker, with Source as more keys of the source's entry
// in steps_config (YAML flow mapping entries) and Steps as more entries,
// its state in StateDir ("": none).
type parSpec struct {
	Broker, In, Out string
	Source, Steps   string
	StateDir        string
}

// parMsg is a message of the parallelism test: its number, its source
// partition, and what the slow step saw: how many of its calls ran at
// once as it started, and when it started and ended (Unix nanoseconds).
type parMsg struct {
	Seq        int   `json:"seq"`
	Part       int   `json:"part"`
	Conc       int64 `json:"conc"`
	Start, End int64
}

// parActive counts the slow step's calls running in the child.
var parActive atomic.Int64

// parPipeline parses messages, runs each through a step that sleeps
// 5 ms, batches them by source partition (a Batch keeps its partition's
// order) and writes the batches.
func parPipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "par-in").
		Apply("parse", dsl.Parser[parMsg]()).
		Apply("slow", dsl.Map(func(m parMsg) (parMsg, error) {
			m.Start = time.Now().UnixNano()
			m.Conc = parActive.Add(1)
			time.Sleep(5 * time.Millisecond)
			parActive.Add(-1)
			m.End = time.Now().UnixNano()
			return m, nil
		})).
		Apply("batch", dsl.Batch[parMsg](10, time.Second)).
		Apply("ser", dsl.Serializer[[]parMsg]()).
		Sink("out", dsl.StreamSink("par-out"))
}

func runParChild(raw string) int {
	var s parSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	yaml := fmt.Sprintf(`pipeline:
  segments:
    - steps_config:
        in: {bootstrap_servers: [%q], topic: %s, auto_offset_reset: earliest%s}
        out: {topic: %s}
%s`, s.Broker, s.In, s.Source, s.Out, s.Steps)
	cfg, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = Run(ctx, parPipeline().MustBuild(), Options{
		Config: cfg, Adapter: AdapterLocal, StateDir: cmp.Or(s.StateDir, "none"),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

// parRun is what one run of the parallelism child made.
type parRun struct {
	msgs    []parMsg
	batches [][]parMsg
	stderr  string
}

// conc is the most calls of the slow step that ran at once.
func (r parRun) conc() int64 {
	var most int64
	for _, m := range r.msgs {
		most = max(most, m.Conc)
	}
	return most
}

// elapsed is the time from the slow step's first call to its last end.
func (r parRun) elapsed() time.Duration {
	first, last := r.msgs[0].Start, r.msgs[0].End
	for _, m := range r.msgs {
		first, last = min(first, m.Start), max(last, m.End)
	}
	return time.Duration(last - first)
}

// runPar produces n messages over 4 partitions, runs the child with the
// given source keys and steps_config entries until every message came out
// in a batch, and returns what it made.
func runPar(t *testing.T, n int, source, steps string) parRun {
	t.Helper()
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	s := parSpec{Broker: b.Addr(), In: "par-in", Out: "par-out", Source: source, Steps: steps}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := b.CreateTopics(ctx, s.In, s.Out); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Broker), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumeTopics(s.Out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var rs []*kgo.Record
	for i := range n {
		v, _ := json.Marshal(parMsg{Seq: i, Part: i % 4})
		rs = append(rs, &kgo.Record{Topic: s.In, Partition: int32(i % 4), Value: v})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(s)
	child := childtest.Start(t, parChildPrefix+string(raw))
	var run parRun
	for len(run.msgs) < n {
		if ctx.Err() != nil || child.Exited() {
			t.Fatalf("%d of %d messages out; pipeline:\n%s", len(run.msgs), n, child.Stderr())
		}
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := cl.PollRecords(pctx, 100)
		pcancel()
		fs.EachRecord(func(r *kgo.Record) {
			var batch []parMsg
			if err := json.Unmarshal(r.Value, &batch); err != nil {
				t.Fatalf("output %q: %v", r.Value, err)
			}
			run.batches = append(run.batches, batch)
			run.msgs = append(run.msgs, batch...)
		})
	}
	child.Stop(t)
	run.stderr = child.Stderr()
	return run
}

// checkParRun checks that a run made every message once, in batches of
// one partition each in the partition's order.
func checkParRun(t *testing.T, name string, run parRun, n int) {
	t.Helper()
	var seqs []int
	for _, m := range run.msgs {
		seqs = append(seqs, m.Seq)
	}
	slices.Sort(seqs)
	if len(seqs) != n || seqs[0] != 0 || seqs[n-1] != n-1 || len(slices.Compact(seqs)) != n {
		t.Errorf("%s: %d messages out, want each of %d once", name, len(run.msgs), n)
	}
	for _, b := range run.batches {
		for i := 1; i < len(b); i++ {
			if b[i].Part != b[0].Part || b[i].Seq <= b[i-1].Seq {
				t.Errorf("%s: batch %v mixes partitions or is out of its partition's order", name, b)
				break
			}
		}
	}
}

// parallelism on a step (here a map step that sleeps 5 ms a message, in
// its multi_process form) runs that many copies of it at once, and so
// about that many times as many messages a second, never more copies;
// the Batch after it still gets each partition's messages in order. The
// multi_process keys other than processes are warned about, once. The
// source's parallelism bounds every step that has none of its own.
func TestStepParallelism(t *testing.T) {
	const n = 400
	one := runPar(t, n, "", "        slow: {parallelism: 1}\n")
	four := runPar(t, n, "", "        slow: {parallelism: {multi_process: {processes: 4, batch_size: 1000, batch_time: 0.2}}}\n")
	source := runPar(t, n, ", parallelism: 1", "")
	checkParRun(t, "parallelism 1", one, n)
	checkParRun(t, "parallelism 4", four, n)
	checkParRun(t, "source parallelism 1", source, n)

	if c := one.conc(); c != 1 {
		t.Errorf("parallelism 1: %d calls of the step ran at once, want 1", c)
	}
	if c := four.conc(); c < 3 || c > 4 {
		t.Errorf("parallelism 4: at most %d calls of the step ran at once, want 3 or 4 (4 allowed)", c)
	}
	if c := source.conc(); c != 1 {
		t.Errorf("source parallelism 1: %d calls of the step ran at once, want 1", c)
	}
	ratio := float64(one.elapsed()) / float64(four.elapsed())
	t.Logf("%d messages through the step: %v at parallelism 1, %v at 4: %.2fx the throughput",
		n, one.elapsed().Round(time.Millisecond), four.elapsed().Round(time.Millisecond), ratio)
	if ratio < 2.5 {
		t.Errorf("parallelism 4 gave %.2fx the throughput of parallelism 1, want about 4 (at least 2.5)", ratio)
	}

	const warn = "of parallelism.multi_process only processes has an effect"
	if got := strings.Count(four.stderr, warn); got != 1 || !strings.Contains(four.stderr, "step=slow keys=parallelism.multi_process.batch_size,parallelism.multi_process.batch_time") {
		t.Errorf("the multi_process warning was logged %d times, want once naming the step and keys:\n%s", got, four.stderr)
	}
	if strings.Contains(one.stderr, warn) {
		t.Errorf("a warning about multi_process without it:\n%s", one.stderr)
	}
}
