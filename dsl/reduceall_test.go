package dsl_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/dsl"
)

// TestReduceAll: every message gets the one key, set by the step; the
// output is a WindowValue with no Kafka key, at the window's end minus a
// millisecond, and WithEventTime applies as to a Reduce.
func TestReduceAll(t *testing.T) {
	g := dsl.StreamingSource("src", "clicks").
		Apply("parse", dsl.Parser[click]()).
		Apply("total", dsl.ReduceAll(dsl.TumblingWindow(time.Minute), dsl.Count[click](),
			dsl.WithEventTime(func(c click) time.Time { return c.At }))).
		Apply("ser", dsl.Serializer[dsl.WindowValue[int]]()).
		Sink("out", dsl.DevNullSink[[]byte]()).
		MustBuild()
	n := g.Node("total")
	if n.Kind() != dsl.KindReduce || n.OutType() != reflect.TypeFor[dsl.WindowValue[int]]() {
		t.Fatalf("node: %v, out %v", n.Kind(), n.OutType())
	}
	r := n.Reducer()
	if r.KeyFollowsPartitioning() || !r.HasEventTime() || r.Window() != dsl.TumblingWindow(time.Minute) || r.AccumulatorType() != reflect.TypeFor[int]() {
		t.Errorf("reducer: partitioned %v, event time %v, window %v, accumulator %v",
			r.KeyFollowsPartitioning(), r.HasEventTime(), r.Window(), r.AccumulatorType())
	}

	// One key for every message, of any payload, which survives the JSON
	// round trip in which keys travel.
	var keys []string
	for _, c := range []click{{User: "ada"}, {User: "grace", At: at(time.Hour)}, {}} {
		k, err := r.Key(dsl.Any{Payload: c, Key: []byte(c.User)})
		if err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, string(js))
		back := reflect.New(r.KeyType())
		if err := json.Unmarshal(js, back.Interface()); err != nil || back.Elem().Interface() != k {
			t.Errorf("key %s does not round-trip: %v", js, err)
		}
	}
	if keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("keys differ: %v", keys)
	}
	if et, err := r.EventTime(dsl.Any{Payload: click{At: at(time.Hour)}, Timestamp: at(0)}); err != nil || !et.Equal(at(time.Hour)) {
		t.Errorf("EventTime = %v, %v", et, err)
	}

	acc, _ := r.NewAccumulator()
	for _, u := range []string{"ada", "grace", "ada"} {
		acc, _ = r.Add(acc, click{User: u})
	}
	k, _ := r.Key(dsl.Any{Payload: click{}})
	out, err := r.Output(k, b(time.Minute, 2*time.Minute), acc)
	if err != nil {
		t.Fatal(err)
	}
	want := dsl.WindowValue[int]{Start: at(time.Minute), End: at(2 * time.Minute), Value: 3}
	if !reflect.DeepEqual(out.Payload, want) || out.Key != nil || out.Headers != nil || !out.Timestamp.Equal(at(2*time.Minute-time.Millisecond)) {
		t.Errorf("Output = %+v", out)
	}
	if _, err := r.Output(nil, b(0, time.Minute), acc); err != nil {
		t.Errorf("Output with no key: %v", err)
	}
	var ser []dsl.Any
	if err := g.Node("ser").Process(out, func(m dsl.Any) { ser = append(ser, m) }); err != nil {
		t.Fatal(err)
	}
	if got := string(ser[0].Payload.([]byte)); got != `{"start":"2024-01-01T00:01:00Z","end":"2024-01-01T00:02:00Z","value":3}` {
		t.Errorf("serialized: %s", got)
	}
}

func TestReduceAllBuildErrors(t *testing.T) {
	_, err := dsl.StreamingSource("src", "clicks").
		Apply("parse", dsl.Parser[click]()).
		Apply("nowin", dsl.ReduceAll(dsl.Window{}, dsl.Count[click]())).
		Apply("id", dsl.Map(func(dsl.WindowValue[int]) (click, error) { return click{}, nil })).
		Apply("partitioned", dsl.ReduceAll(dsl.TumblingWindow(time.Second), dsl.Count[click](), dsl.KeyFollowsPartitioning[click]())).
		Apply("id2", dsl.Map(func(dsl.WindowValue[int]) (click, error) { return click{}, nil })).
		Apply("nilacc", dsl.ReduceAll(dsl.TumblingWindow(time.Second), dsl.Accumulator[click, int, int]{Add: func(n int, _ click) int { return n }})).
		Sink("out", dsl.DevNullSink[dsl.WindowValue[int]]()).
		Build()
	var be *dsl.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("want *BuildError, got %v", err)
	}
	want := []string{
		`step "nowin": no window`,
		`step "partitioned": KeyFollowsPartitioning does not apply to ReduceAll`,
		`step "nilacc": the accumulator has no Merge function; the accumulator has no Result function`,
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

// The total of all orders in 10-second windows, whoever placed them, and
// what a runner emits for one window.
func ExampleReduceAll() {
	type order struct {
		User   string `json:"user"`
		Amount int    `json:"amount"`
	}
	g := dsl.StreamingSource("myinput", "orders").
		Apply("parse", dsl.Parser[order]()).
		Apply("total", dsl.ReduceAll(dsl.TumblingWindow(10*time.Second),
			dsl.Sum(func(o order) int { return o.Amount }))).
		Apply("serialize", dsl.Serializer[dsl.WindowValue[int]]()).
		Sink("myoutput", dsl.StreamSink("order-totals")).
		MustBuild()

	r := g.Node("total").Reducer()
	acc, _ := r.NewAccumulator()
	for _, o := range []order{{"ada", 3}, {"grace", 4}, {"ada", 5}} {
		acc, _ = r.Add(acc, o)
	}
	start := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	m, _ := r.Output(nil, dsl.Bounds{Start: start, End: start.Add(10 * time.Second)}, acc)
	_ = g.Node("serialize").Process(m, func(out dsl.Any) {
		fmt.Printf("key %q, timestamp %s\n%s\n", out.Key, out.Timestamp.Format(time.RFC3339Nano), out.Payload)
	})
	// Output:
	// key "", timestamp 2024-01-01T12:00:09.999Z
	// {"start":"2024-01-01T12:00:00Z","end":"2024-01-01T12:00:10Z","value":12}
}
