package localrunner_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/apache/beam/sdks/v2/go/test/integration"
	"github.com/apache/beam/sdks/v2/go/test/integration/primitives"
	"github.com/apache/beam/sdks/v2/go/test/integration/synthetic"
	"github.com/apache/beam/sdks/v2/go/test/integration/wordcount"
	"github.com/streams-dev/streams/localrunner"
)

// TestBeamPrimitives runs the pipelines of Beam's own integration suite
// (test/integration/primitives, the ValidatesRunner tests of the Go SDK) on
// the local runner, in process, as their *_test.go files do: CheckFilters,
// then build and run on the default runner ("local", set in TestMain;
// CheckFilters applies no runner filter list to it).
//
// Every pipeline must run and pass (a passert failure fails the test). A
// refusal of the runner (an *UnsupportedError) fails the test too, unless
// the entry is listed as refused, with the reason (runSuite): a refusal
// must not hide a regression as a skip. Entries skipped up front say why.
func TestBeamPrimitives(t *testing.T) {
	scope := func(f func(beam.Scope)) func() *beam.Pipeline {
		return func() *beam.Pipeline {
			p, s := beam.NewPipelineWithRoot()
			f(s)
			return p
		}
	}
	for _, tc := range []struct {
		name  string
		build func() *beam.Pipeline
		skip  string
	}{
		{name: "TestCheckpointing", build: scope(primitives.Checkpoints)},
		{name: "TestCoGBK", build: scope(primitives.CoGBK)},
		{name: "TestReshuffle", build: scope(primitives.Reshuffle)},
		{name: "TestReshuffleKV", build: scope(primitives.ReshuffleKV)},
		{name: "TestGBKShortRead", build: scope(primitives.GBKShortRead)},
		{name: "TestDrain", skip: "drain (TruncateRestriction on cancel) is not implemented: the pipeline would run until the deadline"},
		{name: "TestFlatten", build: scope(primitives.Flatten)},
		{name: "TestFlattenDup", build: scope(primitives.FlattenDup)},
		{name: "TestOomParDo", skip: "needs --temp_location and heap dumps written by an SDK harness process on OOM; not applicable in process"},
		{name: "TestParDoMultiOutput", build: primitives.ParDoMultiOutput},
		{name: "TestParDoSideInput", build: primitives.ParDoSideInput},
		{name: "TestParDoKVSideInput", build: primitives.ParDoKVSideInput},
		{name: "TestParDoMultiMapSideInput", build: primitives.ParDoMultiMapSideInput},
		{name: "TestParDoPipelineOptions", build: parDoPipelineOptions},
		{name: "TestValueState", build: scope(primitives.ValueStateParDo)},
		{name: "TestValueStateWindowed", build: scope(primitives.ValueStateParDoWindowed)},
		{name: "TestValueStateClear", build: scope(primitives.ValueStateParDoClear)},
		{name: "TestBagState", build: scope(primitives.BagStateParDo)},
		{name: "TestBagStateClear", build: scope(primitives.BagStateParDoClear)},
		{name: "TestBagStateBlindWrite", build: scope(primitives.BagStateBlindWriteParDo)},
		{name: "TestCombiningState", build: scope(primitives.CombiningStateParDo)},
		{name: "TestMapState", build: scope(primitives.MapStateParDo)},
		{name: "TestMapStateClear", build: scope(primitives.MapStateParDoClear)},
		{name: "TestSetState", build: scope(primitives.SetStateParDo)},
		{name: "TestSetStateClear", build: scope(primitives.SetStateParDoClear)},
		{name: "TestOrderedListState", build: scope(primitives.OrderedListStateParDo)},
		{name: "TestTestStreamStrings", build: scope(primitives.TestStreamStrings)},
		{name: "TestTestStreamByteSliceSequence", build: scope(primitives.TestStreamByteSliceSequence)},
		{name: "TestTestStreamInt64Sequence", build: scope(primitives.TestStreamInt64Sequence)},
		{name: "TestTestStreamInt16Sequence", build: scope(primitives.TestStreamInt16Sequence)},
		{name: "TestTestStreamTwoInt64Sequences", build: scope(primitives.TestStreamTwoInt64Sequences)},
		{name: "TestTestStreamFloat64Sequence", build: scope(primitives.TestStreamFloat64Sequence)},
		{name: "TestTestStreamTwoFloat64Sequences", build: scope(primitives.TestStreamTwoFloat64Sequences)},
		{name: "TestTestStreamBoolSequence", build: scope(primitives.TestStreamBoolSequence)},
		{name: "TestTestStreamTwoBoolSequences", build: scope(primitives.TestStreamTwoBoolSequences)},
		{name: "TestTestStreamTwoUserTypeSequences", build: scope(primitives.TestStreamTwoUserTypeSequences)},
		{name: "TestTestStreamSimple", build: scope(primitives.TestStreamSimple)},
		{name: "TestTestStreamSimple_InfinityDefault", build: scope(primitives.TestStreamSimple_InfinityDefault)},
		{name: "TestTestStreamToGBK", build: scope(primitives.TestStreamToGBK)},
		{name: "TestTestStreamTimersEventTime", build: scope(primitives.TestStreamTimersEventTime)},
		{name: "TestTimers_EventTime_Bounded", build: scope(primitives.TimersEventTimeBounded)},
		{name: "TestTimers_EventTime_Unbounded", build: scope(primitives.TimersEventTimeUnbounded)},
		{name: "TestTimers_EventTime_WithOutputTimestamp", build: scope(primitives.TimersEventTime_WithOutputTimestamp)},
		{name: "TestTimers_EventTime_WithNoOutputTimestamp", build: scope(primitives.TimersEventTime_WithNoOutputTimestamp)},
		{name: "TestTimers_ProcessingTime_Infinity", build: scope(primitives.TimersProcessingTimeTestStream_Infinity)},
		{name: "TestTimers_ProcessingTime_Bounded", build: scope(primitives.TimersProcessingTime_Bounded)},
		{name: "TestTimers_ProcessingTime_Unbounded", build: scope(primitives.TimersProcessingTime_Unbounded)},
		{name: "TestPanes", build: scope(primitives.Panes)},
		{name: "TestWindowSums_Lifted", build: scope(primitives.WindowSums_Lifted)},
		{name: "TestWindowSums_GBK", build: scope(primitives.WindowSums_GBK)},
		{name: "TestValidateWindowedSideInputs", build: scope(primitives.ValidateWindowedSideInputs)},
		{name: "TestTriggerDefault", build: scope(primitives.TriggerDefault)},
		{name: "TestTriggerAlways", build: scope(primitives.TriggerAlways)},
		{name: "TestTriggerElementCount", build: scope(primitives.TriggerElementCount)},
		{name: "TestTriggerRepeat", build: scope(primitives.TriggerRepeat)},
		{name: "TestTriggerAfterEndOfWindow", build: scope(primitives.TriggerAfterEndOfWindow)},
		{name: "TestTriggerAfterAll", build: scope(primitives.TriggerAfterAll)},
		{name: "TestTriggerAfterEach", build: scope(primitives.TriggerAfterEach)},
		{name: "TestTriggerAfterAny", build: scope(primitives.TriggerAfterAny)},
		{name: "TestTriggerAfterProcessingTime", build: scope(primitives.TriggerAfterProcessingTime)},
		// Beam's TestTriggerAfterProcessingTime runs this one too.
		{name: "TestTriggerAfterProcessingTimeNotTriggered", build: scope(primitives.TriggerAfterProcessingTimeNotTriggered)},
		{name: "TestTriggerAfterSynchronizedProcessingTime", build: scope(primitives.TriggerAfterSynchronizedProcessingTime)},
		{name: "TestTriggerNever", build: scope(primitives.TriggerNever)},
		{name: "TestTriggerOrFinally", build: scope(primitives.TriggerOrFinally)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			integration.CheckFilters(t)
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			runSuite(t, tc.build(), refused[tc.name])
		})
	}
}

// refused lists the pipelines of Beam's suites the runner refuses, by test
// name, with the reason. Any other refusal fails its test, and so does a
// listed pipeline that runs: the list stays true.
var refused = map[string]string{}

// runSuite runs p on the runner under test (the default, "local", unless
// --runner says otherwise) and fails t if it fails. A refusal
// (*UnsupportedError) fails t unless why, the listed reason, is set: then
// t is skipped with both.
func runSuite(t *testing.T, p *beam.Pipeline, why string) beam.PipelineResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runner := *ptest.Runner
	if runner == "" {
		runner = ptest.DefaultRunner()
	}
	res, err := beam.Run(ctx, runner, p)
	var ue *localrunner.UnsupportedError
	switch {
	case errors.As(err, &ue) && why != "":
		t.Skipf("refused, as listed (%s): %s", why, firstLine(err.Error()))
	case errors.As(err, &ue):
		t.Fatalf("the runner refused a pipeline of Beam's suite that is not listed as refused: %v", err)
	case err != nil:
		t.Fatal(err)
	case why != "":
		t.Fatalf("listed as refused (%s), but it ran and passed: take it off the list", why)
	}
	return res
}

// TestBeamParDoBundleFinalizer is Beam's TestParDoBundleFinalizer: in
// process is loopback, so it applies. The callbacks must have run when the
// pipeline returns.
func TestBeamParDoBundleFinalizer(t *testing.T) {
	integration.CheckFilters(t)
	for _, tt := range []struct {
		name       string
		pipelineFn func(s beam.Scope)
		want       int32
	}{
		{"InProcessElement", primitives.ParDoProcessElementBundleFinalizer, primitives.BundleFinalizerProcess},
		{"InFinishBundle", primitives.ParDoFinishBundleFinalizer, primitives.BundleFinalizerFinish},
		{"InStartProcessFinishBundle", primitives.ParDoFinalizerInAll, primitives.BundleFinalizerStart + primitives.BundleFinalizerProcess + primitives.BundleFinalizerFinish},
	} {
		t.Run(tt.name, func(t *testing.T) {
			primitives.CountInvokeBundleFinalizer.Store(0)
			p, s := beam.NewPipelineWithRoot()
			tt.pipelineFn(s)
			if _, err := ptest.RunWithMetrics(p); err != nil {
				t.Fatalf("Failed to execute job: %v", err)
			}
			if got := primitives.CountInvokeBundleFinalizer.Load(); got != tt.want {
				t.Errorf("BundleFinalization RegisterCallback not invoked as expected via proxy counts, got: %v, want: %v", got, tt.want)
			}
		})
	}
}

// TestBeamWordCount is Beam's test/integration/wordcount: a CombinePerKey
// count of words, checked with passert.Hash, and the pipeline's metrics.
func TestBeamWordCount(t *testing.T) {
	for i, tc := range []struct {
		lines      []string
		words      int
		hash       string
		smallWords int64
		lineLen    metrics.DistributionValue
	}{
		{[]string{"foo"}, 1, "6zZtmVTet7aIhR3wmPE8BA==", 1, metrics.DistributionValue{Count: 1, Sum: 3, Min: 3, Max: 3}},
		{[]string{"foo foo foo", "foo foo", "foo"}, 1, "jAk8+k4BOH7vQDUiUZdfWg==", 6, metrics.DistributionValue{Count: 3, Sum: 21, Min: 3, Max: 11}},
		{[]string{"bar bar foo bar foo foo"}, 2, "Nz70m/sn3Ep9o484r7MalQ==", 6, metrics.DistributionValue{Count: 1, Sum: 23, Min: 23, Max: 23}},
		{[]string{"foo bar foo bar foo bar"}, 2, "Nz70m/sn3Ep9o484r7MalQ==", 6, metrics.DistributionValue{Count: 1, Sum: 23, Min: 23, Max: 23}},
		{[]string{"", "bar foo bar", "  \t ", " \n\n\n ", "foo bar", "       foo"}, 2, "Nz70m/sn3Ep9o484r7MalQ==", 6, metrics.DistributionValue{Count: 6, Sum: 37, Min: 0, Max: 11}},
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			integration.CheckFilters(t)
			p, s := beam.NewPipelineWithRoot()
			wordcount.WordCountFromPCol(s, beam.CreateList(s, tc.lines), tc.hash, tc.words)
			res, err := ptest.RunWithMetrics(p)
			if err != nil {
				t.Fatal(err)
			}
			var small int64
			if cs := res.Metrics().Query(func(r beam.MetricResult) bool { return r.Name() == "smallWords" }).Counters(); len(cs) > 0 {
				small = cs[0].Result()
			}
			if small != tc.smallWords {
				t.Errorf("smallWords = %d, want %d", small, tc.smallWords)
			}
			var dist metrics.DistributionValue
			if ds := res.Metrics().Query(func(r beam.MetricResult) bool { return r.Name() == "lineLenDistro" }).Distributions(); len(ds) > 0 {
				dist = ds[0].Result()
			}
			if dist != tc.lineLen {
				t.Errorf("lineLenDistro = %+v, want %+v", dist, tc.lineLen)
			}
		})
	}
}

// TestBeamSynthetic is Beam's test/integration/synthetic: synthetic
// sources and steps (splittable, with initial splits) counted with
// passert.Count.
func TestBeamSynthetic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func() *beam.Pipeline
	}{
		{"TestSimplePipeline", synthetic.SimplePipeline},
		{"TestSplittablePipeline", synthetic.SplittablePipeline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			integration.CheckFilters(t)
			ptest.RunAndValidate(t, tc.build())
		})
	}
}

// parDoPipelineOptions builds Beam's pipeline once: it defines flags, and a
// second definition panics (go test -count=2).
var parDoPipelineOptions = sync.OnceValue(primitives.ParDoPipelineOptions)

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
