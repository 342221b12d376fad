package localrunner_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/plans")

// TestPlanGolden checks how the planner fuses pipelines into stages against
// testdata/plans/<name>.golden (go test -run TestPlanGolden -update
// rewrites them).
func TestPlanGolden(t *testing.T) {
	for name, build := range map[string]func(s beam.Scope){
		// Create, two ParDos and a sink fuse into one stage after the Impulse.
		"chain": func(s beam.Scope) {
			collect(s, "out", beam.ParDo(s, format, beam.ParDo(s, double, beam.Create(s, 1, 2, 3))))
		},
		// Outputs of a multi-output ParDo stay in its stage; a Flatten is
		// resolved into consumer lists and its reader starts a stage.
		"multi_output_flatten": func(s beam.Scope) {
			small, even, odd := beam.ParDo3(s, splitFn, beam.Create(s, 1, 2, 3))
			collect(s, "small", small)
			collect(s, "flat", beam.Flatten(s, even, odd, even))
		},
		// An SDF expands into PairWithRestriction and SplitAndSize, fused with
		// their producer, and ProcessSized, a stage root; WindowInto fuses
		// after it.
		"sdf": func(s beam.Scope) {
			ranged := beam.ParDo(s, &rangeFn{N: 10, Step: 5}, beam.Impulse(s))
			collect(s, "windowed", beam.WindowInto(s, window.NewFixedWindows(time.Second), ranged))
		},
		// A GroupByKey is a runner-side stage between the stage writing its
		// input and the one reading its output. CoGroupByKey expands into
		// tagging ParDos, a Flatten (resolved into consumer lists) and a
		// GroupByKey; a combine into a GroupByKey and the combine ParDo.
		"group": func(s beam.Scope) {
			keyed := beam.ParDo(s, parity, beam.WindowInto(s, window.NewFixedWindows(time.Second), beam.Create(s, 1, 2, 3)))
			collect(s, "joined", beam.ParDo(s, formatJoin, beam.CoGroupByKey(s, keyed, keyed)))
			collect(s, "sums", beam.ParDo(s, formatSum, beam.CombinePerKey(s, sumInts, keyed)))
		},
		// A stateful DoFn starts a stage (run one bundle at a time).
		"stateful": func(s beam.Scope) {
			collect(s, "counts", beam.ParDo(s, &runningCount{}, beam.ParDo(s, mod5, beam.Create(s, 1, 2, 3))))
		},
		// A side input reader starts a stage, even when its side input comes
		// from the same PCollection as its main input.
		"side_input": func(s beam.Scope) {
			nums := beam.Create(s, 1, 2, 3)
			collect(s, "sum", beam.ParDo(s, sumSide, nums, beam.SideInput{Input: nums}))
		},
	} {
		t.Run(name, func(t *testing.T) { checkPlanGolden(t, name, build, plan.Options{}) })
	}
}

// TestPlanGoldenShuffle checks the shuffles the planner inserts before
// GroupByKeys fed by native Kafka reads (testdata/plans/shuffle.golden): a
// GroupByKey whose key does not follow the partitioning reads from a
// shuffle read of its internal topic, written by a shuffle write in its
// input's place.
func TestPlanGoldenShuffle(t *testing.T) {
	checkPlanGolden(t, "shuffle", func(s beam.Scope) {
		keyed := beam.ParDo(s, keyPartition, kafka.Read(s, kafka.ReadConfig{Client: kafka.ClientConfig{Brokers: []string{"localhost:9092"}}, Topics: []string{"in"}, Group: "g"}))
		collect(s, "sums", beam.ParDo(s, formatSum, beam.CombinePerKey(s, sumInts, beam.WindowInto(s, window.NewFixedWindows(time.Minute), keyed))))
	}, plan.Options{NativeKafka: true, Shuffle: true})
}

// checkPlanGolden compares the plan of what build makes with
// testdata/plans/<name>.golden.
func checkPlanGolden(t *testing.T, name string, build func(beam.Scope), opts plan.Options) {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	build(s)
	pp, err := localrunner.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := plan.Build(pp, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := pl.String()
	path := filepath.Join("testdata", "plans", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("plan differs from %s (-update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
