package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/childtest"
)

// batchChildPrefix starts a child spec that runs batchPipeline's dev
// loop; the batch's maxWait follows the prefix.
const batchChildPrefix = "dev-batch:"

// batchPipeline batches its input by up to 10 (the config says 2),
// sending a batch after maxWait at the latest.
func batchPipeline(maxWait time.Duration) dsl.Pipeline {
	return dsl.StreamingSource("in", "events").
		Apply("batch", dsl.Batch[[]byte](10, maxWait)).
		Apply("ser", dsl.Serializer[[][]byte]()).
		Sink("out", dsl.StreamSink("batches"))
}

// runBatchChild runs batchPipeline(maxWait) with batch_size 2 on five
// input records, printing the output, until the dev loop says it is done.
func runBatchChild(maxWait string) int {
	wait, err := time.ParseDuration(maxWait)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var input [][]byte
	for i := range 5 {
		input = append(input, fmt.Appendf(nil, "r%d", i))
	}
	return runDevChild("batch", AdapterLocal, "pipeline:\n  segments:\n    - steps_config:\n        in: {auto_offset_reset: earliest}\n        batch: {batch_size: 2}\n",
		batchPipeline(wait).MustBuild(), input)
}

// runDevChild runs g as pipeline name on adapter on the development
// broker, with config cfgYAML, feeding input, printing what arrives
// until the dev loop says it is done; it returns the child's exit code.
func runDevChild(name, adapter, cfgYAML string, g *dsl.Graph, input [][]byte) int {
	cfg, err := config.Parse([]byte(cfgYAML), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err = Run(ctx, g, Options{
		Config: cfg, Adapter: adapter, Name: name, DevBrokerAddr: "127.0.0.1:0", PipelineID: name,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Dev:    &DevOptions{Input: input, Output: os.Stdout, ExitWhenDone: true},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

// batchedRecords counts the records in the batches a child printed.
func batchedRecords(t *testing.T, stdout string) (batches, records int) {
	t.Helper()
	for line := range strings.SplitSeq(strings.TrimSpace(stdout), "\n") {
		v, ok := strings.CutPrefix(line, "batches: ")
		if !ok {
			continue
		}
		var b [][]byte
		if err := json.Unmarshal([]byte(v), &b); err != nil {
			t.Fatalf("batch %q: %v", v, err)
		}
		batches++
		records += len(b)
	}
	return batches, records
}

// TestDevExitWhenDoneFlushesBatches: with batch_size 2 and five records,
// --dev-exit-when-done used to stop once the records were committed, with
// the fifth in a batch still waiting in state. It now waits for the
// batch's timer (batch_timedelta) and prints every record's batch.
func TestDevExitWhenDoneFlushesBatches(t *testing.T) {
	child := childtest.Start(t, batchChildPrefix+"3s")
	if !child.Wait(2 * time.Minute) {
		t.Fatal("the dev loop did not stop by itself")
	}
	if code := child.ExitCode(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, child.Stderr())
	}
	if _, n := batchedRecords(t, child.Stdout()); n != 5 {
		t.Errorf("%d of 5 records printed in batches:\n%s\n%s", n, child.Stdout(), child.Stderr())
	}
	if strings.Contains(child.Stderr(), "HELD IN STATE") {
		t.Errorf("results reported held:\n%s", child.Stderr())
	}
}

// TestDevExitWhenDoneSaysWhatIsHeld: a batch with no time bound waits
// for more input: the dev loop stops, saying plainly that results are
// held in state and what becomes of them.
func TestDevExitWhenDoneSaysWhatIsHeld(t *testing.T) {
	child := childtest.Start(t, batchChildPrefix+"0s")
	if !child.Wait(2 * time.Minute) {
		t.Fatal("the dev loop did not stop by itself")
	}
	if code := child.ExitCode(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, child.Stderr())
	}
	if _, n := batchedRecords(t, child.Stdout()); n >= 5 || n%2 != 0 {
		t.Errorf("%d records printed, want full batches of 2 only:\n%s", n, child.Stdout())
	}
	for line := range strings.SplitSeq(child.Stderr(), "\n") {
		if strings.Contains(line, "HELD IN STATE") {
			t.Log(line)
		}
	}
	for _, want := range []string{"HELD IN STATE", "they are discarded", "state_cells="} {
		if !strings.Contains(child.Stderr(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, child.Stderr())
		}
	}
}

// windowChildPrefix starts a child spec that runs shuffledWindowPipeline's
// dev loop.
const windowChildPrefix = "dev-window"

// shuffledWindowPipeline counts its input per value in hour-long windows,
// by a key that does not follow the source's partitioning: the Reduce
// reads its input back from a shuffle topic. A slow step after it makes
// its results come well after the source has committed its input.
func shuffledWindowPipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "events").
		Apply("count", dsl.Reduce(dsl.TumblingWindow(time.Hour), func(b []byte) string { return string(b) }, dsl.Count[[]byte]())).
		Apply("slow", dsl.Map(func(w dsl.Windowed[string, int]) (dsl.Windowed[string, int], error) {
			time.Sleep(time.Second)
			return w, nil
		})).
		Apply("ser", dsl.Serializer[dsl.Windowed[string, int]]()).
		Sink("out", dsl.StreamSink("counts"))
}

// runWindowChild runs shuffledWindowPipeline on five records of two
// values, on a source of four partitions, printing the output, until the
// dev loop says it is done.
func runWindowChild() int {
	var input [][]byte
	for i := range 5 {
		input = append(input, fmt.Appendf(nil, "v%d", i%2))
	}
	return runDevChild("window", AdapterLocal, "pipeline:\n  segments:\n    - steps_config:\n        in: {auto_offset_reset: earliest}\n",
		shuffledWindowPipeline().MustBuild(), input)
}

// TestDevExitWhenDoneWaitsForShuffledWindows: a shuffled Reduce's source
// commits its records once they are in the shuffle topic, before the
// windows have them; --dev-exit-when-done used to stop then, printing no
// window. It now waits for the shuffle's group too, and prints every
// window with the whole count.
func TestDevExitWhenDoneWaitsForShuffledWindows(t *testing.T) {
	child := childtest.Start(t, windowChildPrefix)
	if !child.Wait(2 * time.Minute) {
		t.Fatal("the dev loop did not stop by itself")
	}
	if code := child.ExitCode(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, child.Stderr())
	}
	counts := map[string]int{}
	for line := range strings.SplitSeq(strings.TrimSpace(child.Stdout()), "\n") {
		v, ok := strings.CutPrefix(line, "counts: ")
		if !ok {
			continue
		}
		var w struct {
			Key   string `json:"key"`
			Value int    `json:"value"`
		}
		if err := json.Unmarshal([]byte(v), &w); err != nil {
			t.Fatalf("window %q: %v", v, err)
		}
		counts[w.Key] += w.Value
	}
	if counts["v0"] != 3 || counts["v1"] != 2 {
		t.Errorf("counts %v, want v0=3 v1=2:\n%s\n%s", counts, child.Stdout(), child.Stderr())
	}
	if strings.Contains(child.Stderr(), "HELD IN STATE") {
		t.Errorf("results reported held:\n%s", child.Stderr())
	}
}
