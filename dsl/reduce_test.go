package dsl_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/dsl"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func b(start, end time.Duration) dsl.Bounds { return dsl.Bounds{Start: at(start), End: at(end)} }

func TestWindowAssign(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    dsl.Window
		t    time.Time
		want []dsl.Bounds
	}{
		{"tumbling start", dsl.TumblingWindow(10 * time.Second), at(0), []dsl.Bounds{b(0, 10*time.Second)}},
		{"tumbling inside", dsl.TumblingWindow(10 * time.Second), at(9999 * time.Millisecond), []dsl.Bounds{b(0, 10*time.Second)}},
		{"tumbling next", dsl.TumblingWindow(10 * time.Second), at(10 * time.Second), []dsl.Bounds{b(10*time.Second, 20*time.Second)}},
		{"tumbling truncates to ms", dsl.TumblingWindow(time.Second), at(999*time.Millisecond + 999*time.Microsecond), []dsl.Bounds{b(0, time.Second)}},
		{"tumbling before 1970", dsl.TumblingWindow(time.Minute), time.Unix(-1, 0), []dsl.Bounds{{Start: time.Unix(-60, 0).UTC(), End: time.Unix(0, 0).UTC()}}},
		{"sliding", dsl.SlidingWindow(10*time.Second, 5*time.Second), at(7 * time.Second),
			[]dsl.Bounds{b(0, 10*time.Second), b(5*time.Second, 15*time.Second)}},
		{"sliding three", dsl.SlidingWindow(3*time.Second, time.Second), at(12500 * time.Millisecond),
			[]dsl.Bounds{b(10*time.Second, 13*time.Second), b(11*time.Second, 14*time.Second), b(12*time.Second, 15*time.Second)}},
		{"sliding uneven", dsl.SlidingWindow(5*time.Second, 2*time.Second), at(4 * time.Second),
			[]dsl.Bounds{b(0, 5*time.Second), b(2*time.Second, 7*time.Second), b(4*time.Second, 9*time.Second)}},
		{"sliding equals tumbling", dsl.SlidingWindow(time.Second, time.Second), at(1500 * time.Millisecond),
			[]dsl.Bounds{b(time.Second, 2*time.Second)}},
		{"session", dsl.SessionWindow(30 * time.Second), at(time.Minute), []dsl.Bounds{b(time.Minute, 90*time.Second)}},
		{"zero window", dsl.Window{}, at(0), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.w.Assign(tc.t)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%v.Assign(%v) = %v, want %v", tc.w, tc.t, got, tc.want)
			}
			for _, w := range got {
				if !w.Contains(tc.t.Truncate(time.Millisecond)) {
					t.Errorf("window %v does not contain %v", w, tc.t)
				}
			}
		})
	}
}

// TestSlidingWindowCount checks, over many instants, that a message is
// in ceil(size/period) sliding windows, each of length size.
func TestSlidingWindowCount(t *testing.T) {
	w := dsl.SlidingWindow(10*time.Second, 3*time.Second)
	for ms := range 30_000 {
		ts := at(time.Duration(ms) * time.Millisecond)
		got := w.Assign(ts)
		if n := len(got); n < 3 || n > 4 {
			t.Fatalf("%v is in %d windows: %v", ts, n, got)
		}
		for _, b := range got {
			if !b.Contains(ts) || b.End.Sub(b.Start) != 10*time.Second || b.Start.UnixMilli()%3000 != 0 {
				t.Fatalf("%v: bad window %v", ts, b)
			}
		}
	}
}

func TestMergeSessions(t *testing.T) {
	s := dsl.SessionWindow(10 * time.Second)
	var ws []dsl.Bounds
	for _, d := range []time.Duration{25 * time.Second, 0, 4 * time.Second, 40 * time.Second, 35 * time.Second, 12 * time.Second} {
		ws = append(ws, s.Assign(at(d))...)
	}
	in := append([]dsl.Bounds(nil), ws...)
	got := dsl.MergeSessions(ws)
	// 0, 4, 12 chain (12 < 4+10); 25 stands alone (25 > 12+10);
	// 35 touches 25's end and merges; 40 overlaps 35.
	want := []dsl.Bounds{b(0, 22*time.Second), b(25*time.Second, 50*time.Second)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MergeSessions = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(ws, in) {
		t.Errorf("MergeSessions modified its argument")
	}
	if dsl.MergeSessions(nil) != nil {
		t.Errorf("MergeSessions(nil) is not nil")
	}
}

func TestWindowAccessors(t *testing.T) {
	sl := dsl.SlidingWindow(time.Minute, 10*time.Second)
	if sl.Kind() != dsl.WindowSliding || sl.Size() != time.Minute || sl.Period() != 10*time.Second || sl.Gap() != 0 {
		t.Errorf("sliding: %v %v %v %v", sl.Kind(), sl.Size(), sl.Period(), sl.Gap())
	}
	tu := dsl.TumblingWindow(time.Minute)
	if tu.Kind() != dsl.WindowTumbling || tu.Size() != time.Minute || tu.Period() != time.Minute {
		t.Errorf("tumbling: %v %v %v", tu.Kind(), tu.Size(), tu.Period())
	}
	se := dsl.SessionWindow(time.Minute)
	if se.Kind() != dsl.WindowSession || se.Gap() != time.Minute || se.Size() != 0 || se.Period() != 0 {
		t.Errorf("session: %v %v %v %v", se.Kind(), se.Gap(), se.Size(), se.Period())
	}
	if s := fmt.Sprint(tu, sl, se, dsl.Window{}); s != "tumbling(1m0s) sliding(1m0s every 10s) session(gap 1m0s) no window" {
		t.Errorf("String: %s", s)
	}
}

// fold runs an accumulator the way a runner may: part of the inputs in
// one accumulator, the rest in another, then merged.
func fold[T, A, R any](acc dsl.Accumulator[T, A, R], in []T, split int) R {
	a, b := acc.New(), acc.New()
	for _, v := range in[:split] {
		a = acc.Add(a, v)
	}
	for _, v := range in[split:] {
		b = acc.Add(b, v)
	}
	return acc.Result(acc.Merge(a, b))
}

func TestAccumulators(t *testing.T) {
	type sale struct {
		Item  string
		Price float64
	}
	sales := []sale{{"a", 2.5}, {"b", -1}, {"c", 10}, {"d", 0.5}}
	for split := range len(sales) + 1 {
		if got := fold(dsl.Count[sale](), sales, split); got != 4 {
			t.Errorf("split %d: Count = %d", split, got)
		}
		if got := fold(dsl.Sum(func(s sale) float64 { return s.Price }), sales, split); got != 12 {
			t.Errorf("split %d: Sum = %v", split, got)
		}
		if got := fold(dsl.Min(func(s sale) float64 { return s.Price }), sales, split); got != -1 {
			t.Errorf("split %d: Min = %v", split, got)
		}
		if got := fold(dsl.Max(func(s sale) float64 { return s.Price }), sales, split); got != 10 {
			t.Errorf("split %d: Max = %v", split, got)
		}
		if got := fold(dsl.Max(func(s sale) string { return s.Item }), sales, split); got != "d" {
			t.Errorf("split %d: Max string = %v", split, got)
		}
		if got := fold(dsl.Collect[sale](), sales, split); !reflect.DeepEqual(got, sales) {
			t.Errorf("split %d: Collect = %v", split, got)
		}
	}
	// Min of a window whose values are all above the zero value.
	if got := fold(dsl.Min(func(n int) int { return n }), []int{5, 7, 6}, 1); got != 5 {
		t.Errorf("Min = %d, want 5", got)
	}
	if got := fold(dsl.Sum(func(n uint8) uint8 { return n }), []uint8{1, 2}, 0); got != 3 {
		t.Errorf("Sum uint8 = %d", got)
	}
}

type click struct {
	User string    `json:"user"`
	At   time.Time `json:"at"`
}

func TestReduceBuildErrors(t *testing.T) {
	user := func(c click) string { return c.User }
	_, err := dsl.StreamingSource("src", "clicks").
		Apply("parse", dsl.Parser[click]()).
		Apply("nowin", dsl.Reduce(dsl.Window{}, user, dsl.Count[click]())).
		Apply("badsize", dsl.Map(func(w dsl.Windowed[string, int]) (click, error) { return click{}, nil })).
		Apply("neg", dsl.Reduce(dsl.TumblingWindow(-time.Second), user, dsl.Count[click]())).
		Apply("id", dsl.Map(func(w dsl.Windowed[string, int]) (click, error) { return click{}, nil })).
		Apply("frac", dsl.Reduce(dsl.SessionWindow(1500*time.Microsecond), user, dsl.Count[click]())).
		Apply("id2", dsl.Map(func(w dsl.Windowed[string, int]) (click, error) { return click{}, nil })).
		Apply("slide", dsl.Reduce(dsl.SlidingWindow(time.Second, 2*time.Second), user, dsl.Count[click]())).
		Apply("id3", dsl.Map(func(w dsl.Windowed[string, int]) (click, error) { return click{}, nil })).
		Apply("nilkey", dsl.Reduce[click, string](dsl.TumblingWindow(time.Second), nil, dsl.Count[click]())).
		Apply("id4", dsl.Map(func(w dsl.Windowed[string, int]) (click, error) { return click{}, nil })).
		Apply("nilacc", dsl.Reduce(dsl.TumblingWindow(time.Second), user, dsl.Accumulator[click, int, int]{})).
		Apply("id5", dsl.Map(func(w dsl.Windowed[string, int]) (click, error) { return click{}, nil })).
		Apply("nilsum", dsl.Reduce(dsl.TumblingWindow(time.Second), user, dsl.Sum[click, int](nil),
			dsl.WithEventTime[click](nil))).
		Apply("batch0", dsl.Batch[dsl.Windowed[string, int]](0, 0)).
		Apply("batchneg", dsl.Batch[[]dsl.Windowed[string, int]](-1, -time.Second)).
		Sink("out", dsl.DevNullSink[[][]dsl.Windowed[string, int]]()).
		Build()
	var be *dsl.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("want *BuildError, got %v", err)
	}
	want := []string{
		`step "nowin": no window; make one with TumblingWindow, SlidingWindow, SessionWindow, TumblingCountWindow or SlidingCountWindow`,
		`step "neg": window size must be positive; got -1s`,
		`step "frac": session gap must be a whole number of milliseconds; got 1.5ms`,
		`step "slide": window period 2s is longer than the window size 1s`,
		`step "nilkey": key function is nil`,
		`step "nilacc": the accumulator has no Add function; the accumulator has no Merge function; the accumulator has no Result function`,
		`step "nilsum": event time function is nil; sum value function is nil`,
		`step "batch0": a batch needs a size or a wait, or both`,
		`step "batchneg": batch size must not be negative; got -1; batch wait must not be negative; got -1s`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if len(be.Problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(be.Problems), len(want), err)
	}
}

func TestReducer(t *testing.T) {
	g := dsl.StreamingSource("src", "clicks").
		Apply("parse", dsl.Parser[click]()).
		Apply("count", dsl.Reduce(dsl.TumblingWindow(time.Minute), func(c click) string {
			if c.User == "" {
				panic("no user")
			}
			return c.User
		}, dsl.Count[click](), dsl.WithEventTime(func(c click) time.Time { return c.At }))).
		Apply("ser", dsl.Serializer[dsl.Windowed[string, int]]()).
		Sink("out", dsl.DevNullSink[[]byte]()).
		MustBuild()
	n := g.Node("count")
	if n.Kind() != dsl.KindReduce || n.Kind().String() != "reduce" || n.Batcher() != nil {
		t.Fatalf("node: %v %v", n.Kind(), n.Batcher())
	}
	r := n.Reducer()
	if r == nil || r.Window() != dsl.TumblingWindow(time.Minute) {
		t.Fatalf("reducer: %v", r)
	}
	if r.KeyType() != reflect.TypeFor[string]() || r.AccumulatorType() != reflect.TypeFor[int]() {
		t.Errorf("types: %v %v", r.KeyType(), r.AccumulatorType())
	}
	if n.OutType() != reflect.TypeFor[dsl.Windowed[string, int]]() {
		t.Errorf("out type %v", n.OutType())
	}
	m := dsl.Any{Payload: click{User: "ada", At: at(time.Hour)}, Timestamp: at(0)}
	if k, err := r.Key(m); err != nil || k != "ada" {
		t.Errorf("Key = %v, %v", k, err)
	}
	if et, err := r.EventTime(m); err != nil || !et.Equal(at(time.Hour)) {
		t.Errorf("EventTime = %v, %v", et, err)
	}
	_, err := r.Key(dsl.Any{Payload: click{}})
	var inv *dsl.InvalidError
	if !errors.As(err, &inv) || inv.Step != "count" || !strings.Contains(err.Error(), "panic: no user") {
		t.Errorf("panicking key: %v", err)
	}
	if _, err := r.Key(dsl.Any{Payload: 42}); !errors.As(err, &inv) {
		t.Errorf("wrong payload type: %v", err)
	}
	acc, err := r.NewAccumulator()
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if acc, err = r.Add(acc, m.Payload); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := r.NewAccumulator()
	other, _ = r.Add(other, m.Payload)
	if acc, err = r.Merge(acc, other); err != nil || acc != 4 {
		t.Fatalf("Merge = %v, %v", acc, err)
	}
	if _, err := r.Add("not an int", m.Payload); err == nil || !strings.Contains(err.Error(), "step count: accumulator add") {
		t.Errorf("bad accumulator: %v", err)
	}
	out, err := r.Output("ada", b(time.Minute, 2*time.Minute), acc)
	if err != nil {
		t.Fatal(err)
	}
	want := dsl.Windowed[string, int]{Key: "ada", Start: at(time.Minute), End: at(2 * time.Minute), Value: 4}
	if !reflect.DeepEqual(out.Payload, want) || string(out.Key) != "ada" || !out.Timestamp.Equal(at(2*time.Minute-time.Millisecond)) {
		t.Errorf("Output = %+v", out)
	}
	var ser []dsl.Any
	if err := g.Node("ser").Process(out, func(m dsl.Any) { ser = append(ser, m) }); err != nil {
		t.Fatal(err)
	}
	if got := string(ser[0].Payload.([]byte)); got != `{"key":"ada","start":"2024-01-01T00:01:00Z","end":"2024-01-01T00:02:00Z","value":4}` {
		t.Errorf("serialized: %s", got)
	}

	// Without WithEventTime, the message timestamp; a non-text key is no
	// Kafka key.
	r2 := dsl.StreamingSource("src", "x").
		Apply("sum", dsl.Reduce(dsl.SessionWindow(time.Second), func(b []byte) int { return len(b) },
			dsl.Sum(func(b []byte) int { return int(b[0]) }))).
		Sink("out", dsl.DevNullSink[dsl.Windowed[int, int]]()).
		MustBuild().Node("sum").Reducer()
	if et, _ := r2.EventTime(m); !et.Equal(at(0)) {
		t.Errorf("default event time %v", et)
	}
	if out, _ := r2.Output(3, b(0, time.Second), 7); out.Key != nil || out.Payload.(dsl.Windowed[int, int]).Value != 7 {
		t.Errorf("Output = %+v", out)
	}
	if _, err := r2.Add(0, []byte{}); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Errorf("panicking add: %v", err)
	}
}

func TestBatcher(t *testing.T) {
	g := dsl.StreamingSource("src", "x").
		Apply("parse", dsl.Parser[click]()).
		Apply("batch", dsl.Batch[click](10, time.Second, dsl.BatchPerKey())).
		Apply("batch2", dsl.Batch[[]click](0, time.Minute)).
		Sink("out", dsl.DevNullSink[[][]click]()).
		MustBuild()
	n := g.Node("batch")
	if n.Kind() != dsl.KindBatch || n.Kind().String() != "batch" || n.Reducer() != nil {
		t.Fatalf("node %v", n.Kind())
	}
	bt := n.Batcher()
	if bt.Size() != 10 || bt.MaxWait() != time.Second || !bt.PerKey() {
		t.Errorf("batcher %d %v %v", bt.Size(), bt.MaxWait(), bt.PerKey())
	}
	if b2 := g.Node("batch2").Batcher(); b2.Size() != 0 || b2.MaxWait() != time.Minute || b2.PerKey() {
		t.Errorf("batcher 2 %d %v %v", b2.Size(), b2.MaxWait(), b2.PerKey())
	}
	got, err := bt.Batch([]any{click{User: "a"}, click{User: "b"}})
	if err != nil || !reflect.DeepEqual(got, []click{{User: "a"}, {User: "b"}}) {
		t.Errorf("Batch = %v, %v", got, err)
	}
	if _, err := bt.Batch([]any{"x"}); err == nil || !strings.HasPrefix(err.Error(), "step batch: ") {
		t.Errorf("wrong type: %v", err)
	}
	if err := n.Process(dsl.Any{}, func(dsl.Any) {}); err == nil {
		t.Errorf("Process on a batch step did not fail")
	}
}
