package window

import (
	"encoding/json"
	"testing"
	"time"
)

func TestMake(t *testing.T) {
	x := make(Expected)
	base := time.UnixMilli(1_700_000_000_000)
	for i := range 2 * Keys {
		want, v := Make(i)
		if len(v) < ValueSize-10 || len(v) > ValueSize+10 {
			t.Errorf("record %d: value of %d bytes, want about %d", i, len(v), ValueSize)
		}
		e, err := Parse(v)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if e != want {
			t.Fatalf("record %d: parsed %+v, Make says %+v", i, e, want)
		}
		x.Add(e, base.Add(time.Duration(i)*time.Millisecond))
	}
	// 20,000 ms from a window boundary: two windows of every key.
	if len(x) != 2*Keys {
		t.Fatalf("%d results, want %d", len(x), 2*Keys)
	}
	s := x[ID{Key: "k7", Start: base.UTC()}]
	_, v7 := Make(7)
	e7, _ := Parse(v7)
	if s != (Stats{Count: 1, Sum: e7.Value}) {
		t.Errorf("k7 in the first window: %+v, want count 1, sum %d", s, e7.Value)
	}
}

func TestStart(t *testing.T) {
	for _, c := range []struct{ ms, want int64 }{
		{0, 0}, {9_999, 0}, {10_000, 10_000}, {1_700_000_004_321, 1_700_000_000_000}, {-1, -10_000}, {-10_000, -10_000},
	} {
		if got := StartMilli(c.ms); got != c.want {
			t.Errorf("StartMilli(%d) = %d, want %d", c.ms, got, c.want)
		}
	}
	if got := Start(time.UnixMilli(12_345).In(time.FixedZone("X", 3600))); !got.Equal(time.UnixMilli(10_000)) || got.Location() != time.UTC {
		t.Errorf("Start = %v, want 10 s after the epoch in UTC", got)
	}
}

func TestAccumulator(t *testing.T) {
	a := CountSum.Add(CountSum.Add(Stats{}, Event{Value: 3}), Event{Value: 4})
	b := CountSum.Add(Stats{}, Event{Value: 5})
	if got := CountSum.Result(CountSum.Merge(a, b)); got != (Stats{Count: 3, Sum: 12}) {
		t.Errorf("count and sum of 3, 4, 5: %+v", got)
	}
}

func TestDecode(t *testing.T) {
	start := time.UnixMilli(1_700_000_010_000).UTC()
	v, err := json.Marshal(Result{Key: "k1", Start: start, End: start.Add(Size), Value: Stats{Count: 2, Sum: 9}})
	if err != nil {
		t.Fatal(err)
	}
	id, r, err := Decode(v)
	if err != nil || id != (ID{Key: "k1", Start: start}) || r.Value != (Stats{Count: 2, Sum: 9}) {
		t.Errorf("Decode(%s) = %+v, %+v, %v", v, id, r, err)
	}
	if _, _, err := Decode([]byte(`{"key":"k1","start":"2023-11-14T22:13:30Z","end":"2023-11-14T22:13:31Z"}`)); err == nil {
		t.Error("a 1 s window decoded without error")
	}
}

func TestPipeline(t *testing.T) {
	g, err := Pipeline.Build()
	if err != nil {
		t.Fatal(err)
	}
	n := g.Node(AggregateStep)
	if n == nil || n.Reducer() == nil {
		t.Fatalf("no Reduce named %q", AggregateStep)
	}
	if !n.Reducer().KeyFollowsPartitioning() {
		t.Error("the Reduce does not declare KeyFollowsPartitioning: the benchmark would not measure partition tasks")
	}
}

func TestShufflePipeline(t *testing.T) {
	g, err := ShufflePipeline.Build()
	if err != nil {
		t.Fatal(err)
	}
	n := g.Node(AggregateStep)
	if n == nil || n.Reducer() == nil {
		t.Fatalf("no Reduce named %q", AggregateStep)
	}
	if n.Reducer().KeyFollowsPartitioning() {
		t.Error("the Reduce declares KeyFollowsPartitioning: the benchmark would not measure the shuffle")
	}
}
