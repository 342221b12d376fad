package localrunner_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/contextreg"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

// parity keys x by "odd" or "even", keeping its event time.
func parity(x int) (string, int) {
	if x%2 == 0 {
		return "even", x
	}
	return "odd", x
}

// one maps a keyed value to 1, for counting by summing.
func one(k string, _ int) (string, int) { return k, 1 }

func sumInts(a, b int) int { return a + b }

// paneString renders a pane as "ontime#0/0 first last".
func paneString(pn typex.PaneInfo) string {
	timing := map[typex.PaneTiming]string{typex.PaneEarly: "early", typex.PaneOnTime: "ontime", typex.PaneLate: "late", typex.PaneUnknown: "unknown"}[pn.Timing]
	s := fmt.Sprintf("%s#%d/%d", timing, pn.Index, pn.NonSpeculativeIndex)
	if pn.IsFirst {
		s += " first"
	}
	if pn.IsLast {
		s += " last"
	}
	return s
}

// formatGroup renders a group as "key=[sorted values] pane".
func formatGroup(pn beam.PaneInfo, key string, vals func(*int) bool) string {
	var vs []int
	var v int
	for vals(&v) {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return fmt.Sprintf("%s=%v %s", key, vs, paneString(pn))
}

// formatGroupNoPane renders a group as "key=[sorted values]".
func formatGroupNoPane(key string, vals func(*int) bool) string {
	var vs []int
	var v int
	for vals(&v) {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return fmt.Sprintf("%s=%v", key, vs)
}

// formatSum renders a combined value. (The SDK's unlifted combine emits
// its result without the GroupByKey's pane.)
func formatSum(key string, sum int) string {
	return fmt.Sprintf("%s=%d", key, sum)
}

// formatJoin renders a CoGroupByKey of two inputs.
func formatJoin(key string, as, bs func(*int) bool) string {
	var xs, ys []int
	var v int
	for as(&v) {
		xs = append(xs, v)
	}
	for bs(&v) {
		ys = append(ys, v)
	}
	slices.Sort(xs)
	slices.Sort(ys)
	return fmt.Sprintf("%s a=%v b=%v", key, xs, ys)
}

func init() {
	register.Function1x2(parity)
	register.Function2x2(one)
	register.Function2x1(sumInts)
	register.Function3x1(formatGroup)
	register.Function2x1(formatSum)
	register.Function2x1(formatGroupNoPane)
	register.Function3x1(formatJoin)
	register.Iter1[int]()
}

var stampedInput = []int{1, 2, 3, 9, 10, 11, 25, 31}

func TestGroupByKeyWindows(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fn           *window.Fn
		prismNoPanes bool
		want         []string // records, sorted; nil: compare with prism only
	}{
		{name: "global", fn: window.NewGlobalWindows()},
		{name: "fixed", fn: window.NewFixedWindows(10 * time.Second), want: []string{
			"even=[10] ontime#0/0 first last@19999[10000:20000)",
			"even=[2] ontime#0/0 first last@9999[0:10000)",
			"odd=[1 3 9] ontime#0/0 first last@9999[0:10000)",
			"odd=[11] ontime#0/0 first last@19999[10000:20000)",
			"odd=[25] ontime#0/0 first last@29999[20000:30000)",
			"odd=[31] ontime#0/0 first last@39999[30000:40000)",
		}},
		{name: "sliding", fn: window.NewSlidingWindows(10*time.Second, 20*time.Second), want: []string{
			"even=[10] ontime#0/0 first last@29999[10000:30000)",
			"even=[2 10] ontime#0/0 first last@19999[0:20000)",
			"even=[2] ontime#0/0 first last@9999[-10000:10000)",
			"odd=[1 3 9 11] ontime#0/0 first last@19999[0:20000)",
			"odd=[1 3 9] ontime#0/0 first last@9999[-10000:10000)",
			"odd=[11 25] ontime#0/0 first last@29999[10000:30000)",
			"odd=[25 31] ontime#0/0 first last@39999[20000:40000)",
			"odd=[31] ontime#0/0 first last@49999[30000:50000)",
		}},
		// 1 and 3 merge, 9 and 11 merge; 3's session ends at 8, before 9.
		// Prism gives merged sessions an empty pane (early#0, not first):
		// panes are compared with the expected output only.
		{name: "sessions", fn: window.NewSessions(5 * time.Second), prismNoPanes: true, want: []string{
			"even=[10] ontime#0/0 first last@14999[10000:15000)",
			"even=[2] ontime#0/0 first last@6999[2000:7000)",
			"odd=[1 3] ontime#0/0 first last@7999[1000:8000)",
			"odd=[25] ontime#0/0 first last@29999[25000:30000)",
			"odd=[31] ontime#0/0 first last@35999[31000:36000)",
			"odd=[9 11] ontime#0/0 first last@15999[9000:16000)",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			build := func(format any) builder {
				return func(s beam.Scope, prefix string) {
					stamped := beam.ParDo(s, stamp, beam.Create(s, toAny(stampedInput)...))
					keyed := beam.ParDo(s, parity, beam.WindowInto(s, tc.fn, stamped))
					collect(s, prefix+"groups", beam.ParDo(s, format, beam.GroupByKey(s, keyed)))
				}
			}
			var got map[string][]record
			if tc.prismNoPanes {
				runBoth(t, build(formatGroupNoPane), "groups")
				prefix := t.Name() + "/"
				if _, err := runLocal(t, build(formatGroup), prefix); err != nil {
					t.Fatal(err)
				}
				got = map[string][]record{"groups": takeRecords(prefix + "groups")}
			} else {
				got = runBoth(t, build(formatGroup), "groups")
			}
			if tc.want != nil && !slices.Equal(strs(got["groups"]), tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(strs(got["groups"]), "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.want == nil && len(got["groups"]) != 2 {
				t.Errorf("got %v, want two groups", strs(got["groups"]))
			}
		})
	}
}

func toAny(xs []int) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func TestCombines(t *testing.T) {
	got := runBoth(t, func(s beam.Scope, prefix string) {
		stamped := beam.ParDo(s, stamp, beam.Create(s, toAny(stampedInput)...))
		keyed := beam.ParDo(s, parity, beam.WindowInto(s, window.NewFixedWindows(10*time.Second), stamped))
		collect(s, prefix+"perkey", beam.ParDo(s, formatSum, beam.CombinePerKey(s, sumInts, keyed)))
		collect(s, prefix+"globally", beam.Combine(s, sumInts, stamped))
		passert.Equals(s, stats.CountElms(s, stamped), len(stampedInput))
		passert.Count(s, stamped, "stamped", len(stampedInput))
		passert.Sum(s, stamped, "stamped", len(stampedInput), 92)
	}, "perkey", "globally")
	want := []string{
		"even=10@19999[10000:20000)",
		"even=2@9999[0:10000)",
		"odd=11@19999[10000:20000)",
		"odd=13@9999[0:10000)",
		"odd=25@29999[20000:30000)",
		"odd=31@39999[30000:40000)",
	}
	if !slices.Equal(strs(got["perkey"]), want) {
		t.Errorf("per key: got\n%s\nwant\n%s", strings.Join(strs(got["perkey"]), "\n"), strings.Join(want, "\n"))
	}
	if v := values(got["globally"]); !slices.Equal(v, []string{"92"}) {
		t.Errorf("globally: got %v, want [92]", v)
	}
}

func TestCoGroupByKeyInWindows(t *testing.T) {
	got := runBoth(t, func(s beam.Scope, prefix string) {
		fixed := window.NewFixedWindows(10 * time.Second)
		a := beam.ParDo(s, parity, beam.WindowInto(s, fixed, beam.ParDo(s, stamp, beam.Create(s, 1, 2, 3, 12))))
		b := beam.ParDo(s, parity, beam.WindowInto(s, fixed, beam.ParDo(s, stamp, beam.Create(s, 5, 14, 15))))
		collect(s, prefix+"joined", beam.ParDo(s, formatJoin, beam.CoGroupByKey(s, a, b)))
	}, "joined")
	want := []string{
		"even a=[12] b=[14]@19999[10000:20000)",
		"even a=[2] b=[]@9999[0:10000)",
		"odd a=[1 3] b=[5]@9999[0:10000)",
		"odd a=[] b=[15]@19999[10000:20000)",
	}
	if !slices.Equal(strs(got["joined"]), want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(strs(got["joined"]), "\n"), strings.Join(want, "\n"))
	}
}

// A failing passert after a GroupByKey fails the run: the assertions the
// suites rely on do run.
func TestPassertAfterGroupingFails(t *testing.T) {
	_, err := runLocal(t, func(s beam.Scope, _ string) {
		passert.Sum(s, beam.Create(s, 1, 2, 3), "wrong", 3, 7)
	}, t.Name())
	var te *localrunner.TransformError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "sum") {
		t.Fatalf("got %v, want a TransformError from passert's sum check", err)
	}
}

// lateStep is one call of lateFn: the elements it emits (event times in
// seconds, the values being the seconds) and the watermark it reports
// after them.
type lateStep struct {
	Seconds   []int
	Watermark int64 // ms
}

// lateFn is a splittable DoFn that emits its steps one call at a time,
// self-checkpointing with Delay in between, each element keyed "k".
type lateFn struct {
	Steps []lateStep
	Delay time.Duration
}

func (f *lateFn) CreateInitialRestriction(_ []byte) offsetrange.Restriction {
	return offsetrange.Restriction{Start: 0, End: int64(len(f.Steps))}
}

func (f *lateFn) SplitRestriction(_ []byte, r offsetrange.Restriction) []offsetrange.Restriction {
	return []offsetrange.Restriction{r}
}

func (f *lateFn) RestrictionSize(_ []byte, r offsetrange.Restriction) float64 { return r.Size() }

func (f *lateFn) CreateTracker(r offsetrange.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(offsetrange.NewTracker(r))
}

func (f *lateFn) InitialWatermarkEstimatorState(_ beam.EventTime, _ offsetrange.Restriction, _ []byte) int64 {
	return mtime.MinTimestamp.Milliseconds()
}

func (f *lateFn) CreateWatermarkEstimator(ms int64) *sdf.ManualWatermarkEstimator {
	return &sdf.ManualWatermarkEstimator{State: mtime.FromMilliseconds(ms).ToTime()}
}

func (f *lateFn) WatermarkEstimatorState(e *sdf.ManualWatermarkEstimator) int64 {
	return mtime.FromTime(e.State).Milliseconds()
}

func (f *lateFn) ProcessElement(we *sdf.ManualWatermarkEstimator, rt *sdf.LockRTracker, _ []byte, emit func(beam.EventTime, string, int)) sdf.ProcessContinuation {
	i := rt.GetRestriction().(offsetrange.Restriction).Start
	if !rt.TryClaim(i) {
		return sdf.StopProcessing()
	}
	st := f.Steps[i]
	for _, sec := range st.Seconds {
		emit(mtime.FromMilliseconds(int64(sec)*1000), "k", sec)
	}
	we.UpdateWatermark(time.UnixMilli(st.Watermark))
	if int(i)+1 == len(f.Steps) {
		return sdf.StopProcessing()
	}
	return sdf.ResumeProcessingIn(f.Delay)
}

func init() {
	register.DoFn4x1[*sdf.ManualWatermarkEstimator, *sdf.LockRTracker, []byte, func(beam.EventTime, string, int), sdf.ProcessContinuation](&lateFn{})
	register.Emitter3[beam.EventTime, string, int]()
}

func droppedLate(res beam.PipelineResult) int64 {
	var n int64
	for _, c := range res.Metrics().Query(func(r metrics.SingleResult) bool { return r.Name() == "droppedDueToLateness" }).Counters() {
		n += c.Result()
	}
	return n
}

// TestLateData drives the watermark of a GroupByKey's input from a
// splittable DoFn: the ON_TIME pane holds what arrived before the
// watermark passed the end of the window, data arriving later is dropped
// (and counted) or, within the allowed lateness, fires at once in LATE
// panes with the next indexes.
func TestLateData(t *testing.T) {
	steps := []lateStep{
		{Seconds: []int{1, 2}, Watermark: 11_000}, // passes [0, 10s)
		{Seconds: []int{3}, Watermark: 12_000},    // late
		{Seconds: []int{4}, Watermark: 16_000},    // late; then [0, 10s) expires with a 5s lateness
		{Seconds: []int{5, 15}, Watermark: 30_000},
	}
	for _, tc := range []struct {
		lateness time.Duration
		want     []string
		dropped  int64
	}{
		{0, []string{
			"k=[1 2] ontime#0/0 first last@9999[0:10000)",
			"k=[15] ontime#0/0 first last@19999[10000:20000)",
		}, 3},
		{5 * time.Second, []string{
			"k=[15] ontime#0/0 first last@19999[10000:20000)",
			"k=[1 2] ontime#0/0 first@9999[0:10000)",
			"k=[3] late#1/1@9999[0:10000)",
			"k=[4] late#2/2@9999[0:10000)",
		}, 1},
	} {
		t.Run(fmt.Sprintf("lateness=%v", tc.lateness), func(t *testing.T) {
			prefix := t.Name() + "/"
			res, err := runLocal(t, func(s beam.Scope, prefix string) {
				elms := beam.ParDo(s, &lateFn{Steps: steps, Delay: 200 * time.Millisecond}, beam.Impulse(s))
				windowed := beam.WindowInto(s, window.NewFixedWindows(10*time.Second), elms, beam.AllowedLateness(tc.lateness))
				collect(s, prefix+"out", beam.ParDo(s, formatGroup, beam.GroupByKey(s, windowed)))
			}, prefix)
			if err != nil {
				t.Fatal(err)
			}
			got := strs(takeRecords(prefix + "out"))
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if n := droppedLate(res); n != tc.dropped {
				t.Errorf("droppedDueToLateness = %d, want %d", n, tc.dropped)
			}
		})
	}
}

// TestGroupingHoldsTheWatermark runs an unbounded pipeline through two
// GroupByKeys on the same fixed windows: windows fire as the watermark
// passes them, before the source ends, and the first GroupByKey's output
// watermark is held by what it buffers, so its panes are never late at
// the second (nothing dropped).
func TestGroupingHoldsTheWatermark(t *testing.T) {
	steps := []lateStep{
		{Seconds: []int{1, 2, 3}, Watermark: 5_000},
		{Seconds: []int{6, 7}, Watermark: 12_000},
		{Seconds: []int{12, 15}, Watermark: 25_000},
		{Seconds: []int{21, 29}, Watermark: 31_000},
	}
	var events []string
	hooks := localrunner.Hooks{BundleDone: func(e localrunner.BundleEvent) {
		switch {
		case e.Dropped > 0:
			events = append(events, "dropped")
		case strings.HasPrefix(e.Bundle, "g") && e.Outputs > 0:
			events = append(events, "fired")
		case len(e.Residuals) > 0:
			events = append(events, "checkpoint")
		}
	}}
	prefix := t.Name() + "/"
	_, err := runLocal(t, func(s beam.Scope, prefix string) {
		elms := beam.ParDo(s, &lateFn{Steps: steps, Delay: 100 * time.Millisecond}, beam.Impulse(s))
		windowed := beam.WindowInto(s, window.NewFixedWindows(10*time.Second), elms)
		counts := beam.CombinePerKey(s, sumInts, beam.ParDo(s, one, windowed))
		collect(s, prefix+"out", beam.ParDo(s, formatGroup, beam.GroupByKey(s, counts)))
	}, prefix, localrunner.WithHooks(hooks))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"k=[2] ontime#0/0 first last@19999[10000:20000)",
		"k=[2] ontime#0/0 first last@29999[20000:30000)",
		"k=[5] ontime#0/0 first last@9999[0:10000)",
	}
	if got := strs(takeRecords(prefix + "out")); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if slices.Contains(events, "dropped") {
		t.Errorf("elements were dropped as late: %v", events)
	}
	last := -1
	for i, ev := range events {
		if ev == "checkpoint" {
			last = i
		}
	}
	if i := slices.Index(events, "fired"); i < 0 || i > last {
		t.Errorf("no window fired before the source's last checkpoint: %v", events)
	}
}

// keyPartition keys a Kafka record by its partition, counting 1.
func keyPartition(r kafka.Record) (string, int) { return strconv.Itoa(int(r.Partition)), 1 }

func init() {
	register.Function1x2(keyPartition)
}

// producePastAndFuture writes 200 records to the two partitions of "in":
// the first 100 an hour old, a millisecond apart (their one-minute window
// fires once the partitions are idle), the others an hour ahead (their
// window cannot fire).
func producePastAndFuture(t *testing.T, cl *kgo.Client) {
	t.Helper()
	past := time.Now().Add(-time.Hour).Truncate(time.Minute)
	future := time.Now().Add(time.Hour)
	var rs []*kgo.Record
	for i := range 200 {
		ts := past.Add(time.Duration(i) * time.Millisecond)
		if i >= 100 {
			ts = future
		}
		rs = append(rs, &kgo.Record{Topic: "in", Partition: int32(i % 2), Value: []byte(strconv.Itoa(i)), Timestamp: ts})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// sumsPerPartition sums the records of each partition of "in", read by
// group gw, in one-minute windows, into the sink key.
func sumsPerPartition(c *kfake.Cluster, key string) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	keyed := beam.ParDo(s, keyPartition, kafka.Read(s, readConfig(c, "gw")))
	sums := beam.CombinePerKey(s, sumInts, beam.WindowInto(s, window.NewFixedWindows(time.Minute), keyed))
	collect(s, key, beam.ParDo(s, formatSum, sums))
	return p
}

// TestKafkaNativeWindowsHoldCommits counts records per partition in
// one-minute windows over the native Kafka source: half the records are an
// hour old (their window fires once the partitions are idle), half an
// hour ahead (their window cannot fire). The source reads all of them
// although they are more than its in-flight bound (windows release the
// bound), commits never pass a record still buffered in a window, and a
// cancel does not wait for those windows. Without the shuffle (with it,
// see TestShuffleWindowsHoldTheShuffleCommits).
func TestKafkaNativeWindowsHoldCommits(t *testing.T) {
	c, cl, adm := kafkaCluster(t)
	producePastAndFuture(t, cl)
	key := t.Name()
	var mu sync.Mutex
	sourced, dropped := 0, 0
	hooks := localrunner.Hooks{BundleDone: func(e localrunner.BundleEvent) {
		mu.Lock()
		defer mu.Unlock()
		dropped += e.Dropped
		if strings.HasPrefix(e.Bundle, "src") {
			sourced += e.Outputs
		}
	}}
	p := sumsPerPartition(c, key)
	stop := runUntil(t, p, localrunner.WithHooks(hooks), localrunner.WithMaxBundleSize(16),
		localrunner.WithKafkaCommit(20*time.Millisecond, 10), localrunner.WithKafkaInflight(30, 1<<20),
		localrunner.WithDrainTimeout(20*time.Second), localrunner.WithShuffle(false))
	waitFor(t, "the past windows and every record read", time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		if dropped > 0 {
			t.Fatalf("%d records dropped as late (%d read): a partition's watermark passed records not read yet", dropped, sourced)
		}
		return countRecords(key) >= 2 && sourced == 200
	})
	checkCommits := func(when string) {
		cm := commits(context.Background(), adm, "gw")
		for p := range int32(2) {
			if cm[p] <= 0 || cm[p] > 50 {
				t.Errorf("%s: partition %d committed at %d, want in (0, 50]: records from 50 on wait in a window", when, p, cm[p])
			}
		}
	}
	waitFor(t, "commits", time.Minute, func() bool {
		cm := commits(context.Background(), adm, "gw")
		return cm[0] > 0 && cm[1] > 0
	})
	time.Sleep(300 * time.Millisecond) // a few commit intervals
	checkCommits("running")
	start := time.Now()
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("cancel took %v: the drain waited for windows that cannot fire", took)
	}
	checkCommits("after the drain")
	if got, want := values(takeRecords(key)), []string{"0=50", "1=50"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// checkedSum is a CombineFn with every optional part: Setup, a context and
// errors everywhere, and a value it refuses (an error) or panics on.
type checkedSum struct {
	Refuse, Panic int

	ready bool
}

func (f *checkedSum) Setup(context.Context) error { f.ready = true; return nil }
func (f *checkedSum) CreateAccumulator(context.Context) (int, error) {
	if !f.ready {
		return 0, errors.New("CreateAccumulator before Setup")
	}
	return 0, nil
}
func (f *checkedSum) AddInput(_ context.Context, a, v int) (int, error) {
	switch v {
	case f.Refuse:
		return 0, fmt.Errorf("value %d refused", v)
	case f.Panic:
		panic(fmt.Sprintf("value %d", v))
	}
	return a + v, nil
}
func (f *checkedSum) MergeAccumulators(_ context.Context, a, b int) (int, error) { return a + b, nil }
func (f *checkedSum) Teardown() error                                            { return nil }

func init() {
	// register.Combiner2 cannot generate callers for methods with contexts
	// and errors; they are called by reflection.
	beam.RegisterType(reflect.TypeFor[checkedSum]())
}

// A CombinePerKey runs lifted: the GroupByKey adds each value to its key
// and window's accumulator through the CombineFn's methods (with their
// contexts and errors), and a failing CombineFn fails the run with a
// TransformError naming the combine.
func TestCombineFnRunsInTheGroupByKey(t *testing.T) {
	build := func(fn *checkedSum) builder {
		return func(s beam.Scope, prefix string) {
			fixed := window.NewFixedWindows(10 * time.Second)
			kv := beam.ParDo(s, parity, beam.WindowInto(s, fixed, beam.ParDo(s, stamp, beam.Create(s, 1, 2, 3, 9, 10, 11, 25))))
			collect(s, prefix+"sums", beam.ParDo(s, formatSum, beam.CombinePerKey(s.Scope("sum"), fn, kv)))
		}
	}
	got := runBoth(t, build(&checkedSum{Refuse: -1, Panic: -2}), "sums")
	want := []string{"even=10", "even=2", "odd=11", "odd=13", "odd=25"}
	if g := values(got["sums"]); !slices.Equal(g, want) {
		t.Errorf("sums %q, want %q", g, want)
	}
	for _, tc := range []struct {
		fn    *checkedSum
		panic bool
		cause string
	}{
		{&checkedSum{Refuse: 9, Panic: -2}, false, "value 9 refused"},
		{&checkedSum{Refuse: -1, Panic: 3}, true, "value 3"},
	} {
		_, err := runLocal(t, build(tc.fn), t.Name())
		var te *localrunner.TransformError
		if !errors.As(err, &te) || te.Transform != "sum/CombinePerKey" || te.Panic != tc.panic || !strings.Contains(te.Cause, tc.cause) {
			t.Errorf("got %v (%+v), want a TransformError of sum/CombinePerKey with %q", err, te, tc.cause)
		}
	}
}

// lateDataKey marks, in a scope's context, a composite that receives a
// GroupByKey's dropped elements (localrunner.LateDataAnnotation).
type lateDataKey struct{}

func init() {
	contextreg.Default().TransformExtractor(func(ctx context.Context) contextreg.TransformMetadata {
		if ctx.Value(lateDataKey{}) == nil {
			return contextreg.TransformMetadata{}
		}
		return contextreg.TransformMetadata{Annotations: map[string][]byte{localrunner.LateDataAnnotation: nil}}
	})
	register.Function3x1(formatDropped)
}

// formatDropped renders a dropped element as "key=value@window".
func formatDropped(w beam.Window, key string, v int) string {
	iw := w.(window.IntervalWindow)
	return fmt.Sprintf("%s=%d@[%d:%d)", key, v, iw.Start.Milliseconds(), iw.End.Milliseconds())
}

// A composite annotated with LateDataAnnotation that reads a GroupByKey's
// input (or a CombinePerKey's) receives exactly the elements the
// GroupByKey drops as late, in their windows, and nothing else.
func TestDroppedElementsGoToTheLateDataReader(t *testing.T) {
	steps := []lateStep{
		{Seconds: []int{1, 2}, Watermark: 11_000}, // passes [0, 10s)
		{Seconds: []int{3}, Watermark: 12_000},    // late
		{Seconds: []int{4, 12}, Watermark: 16_000},
		{Seconds: []int{5, 15}, Watermark: 30_000}, // 5 late
	}
	for _, combine := range []bool{false, true} {
		t.Run(fmt.Sprintf("combine=%v", combine), func(t *testing.T) {
			prefix := t.Name() + "/"
			res, err := runLocal(t, func(s beam.Scope, prefix string) {
				elms := beam.ParDo(s, &lateFn{Steps: steps, Delay: 200 * time.Millisecond}, beam.Impulse(s))
				windowed := beam.WindowInto(s, window.NewFixedWindows(10*time.Second), elms)
				if combine {
					collect(s, prefix+"out", beam.ParDo(s, formatSum, beam.CombinePerKey(s, sumInts, windowed)))
				} else {
					collect(s, prefix+"out", beam.ParDo(s, formatGroupNoPane, beam.GroupByKey(s, windowed)))
				}
				ls := s.WithContext(context.WithValue(context.Background(), lateDataKey{}, true), "late data")
				collect(ls, prefix+"dropped", beam.ParDo(ls, formatDropped, windowed))
			}, prefix)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"k=[1 2]", "k=[12 15]"}
			if combine {
				want = []string{"k=27", "k=3"}
			}
			if got := values(takeRecords(prefix + "out")); !slices.Equal(got, want) {
				t.Errorf("output %q, want %q", got, want)
			}
			wantDropped := []string{"k=3@[0:10000)", "k=4@[0:10000)", "k=5@[0:10000)"}
			if got := values(takeRecords(prefix + "dropped")); !slices.Equal(got, wantDropped) {
				t.Errorf("dropped %q, want %q", got, wantDropped)
			}
			if n := droppedLate(res); n != 3 {
				t.Errorf("droppedDueToLateness = %d, want 3", n)
			}
		})
	}
}
