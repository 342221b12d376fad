package dsl_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/dsl"
)

func TestCountWindows(t *testing.T) {
	tw := dsl.TumblingCountWindow(3)
	if tw.Kind() != dsl.WindowTumblingCount || !tw.IsCount() || tw.Count() != 3 || tw.Step() != 3 ||
		tw.Size() != 0 || tw.Period() != 0 || tw.String() != "tumbling(3 messages)" || tw.Kind().String() != "tumbling count" {
		t.Errorf("tumbling count window: %v %v %d %d %v %v", tw.Kind(), tw, tw.Count(), tw.Step(), tw.Size(), tw.Period())
	}
	sw := dsl.SlidingCountWindow(5, 2)
	if sw.Kind() != dsl.WindowSlidingCount || !sw.IsCount() || sw.Count() != 5 || sw.Step() != 2 ||
		sw.String() != "sliding(5 messages every 2)" {
		t.Errorf("sliding count window: %v %v %d %d", sw.Kind(), sw, sw.Count(), sw.Step())
	}
	if tm := dsl.TumblingWindow(time.Second); tm.IsCount() || tm.Count() != 0 || tm.OpensCountWindow(0) {
		t.Errorf("a time window is a count window: %v", tm)
	}
	if got := sw.Assign(at(0)); got != nil {
		t.Errorf("a count window assigns by time: %v", got)
	}
	// Messages 0, 2, 4, ... open a sliding window of step 2; every
	// message of a tumbling window of 3 that is a multiple of 3.
	for i, want := range []bool{true, false, true, false, true, false, true} {
		if got := sw.OpensCountWindow(int64(i)); got != want {
			t.Errorf("sliding: message %d opens a window: %v, want %v", i, got, want)
		}
		if got, want := tw.OpensCountWindow(int64(i)), i%3 == 0; got != want {
			t.Errorf("tumbling: message %d opens a window: %v, want %v", i, got, want)
		}
	}
	b := dsl.CountBounds(at(time.Second).UnixMilli(), at(5*time.Second).UnixMilli())
	if b.Start != at(time.Second) || b.End != at(5*time.Second+time.Millisecond) || !b.Contains(at(5*time.Second)) {
		t.Errorf("count bounds %v", b)
	}
}

func TestCountWindowBuildErrors(t *testing.T) {
	type click struct{ User string }
	user := func(c click) string { return c.User }
	id := dsl.Map(func(w dsl.Windowed[string, int]) (click, error) { return click{}, nil })
	_, err := dsl.StreamingSource("src", "clicks").
		Apply("parse", dsl.Parser[click]()).
		Apply("zero", dsl.Reduce(dsl.TumblingCountWindow(0), user, dsl.Count[click]())).
		Apply("id", id).
		Apply("negstep", dsl.Reduce(dsl.SlidingCountWindow(3, -1), user, dsl.Count[click]())).
		Apply("id2", id).
		Apply("bigstep", dsl.Reduce(dsl.SlidingCountWindow(3, 4), user, dsl.Count[click]())).
		Apply("id3", id).
		Apply("negsize", dsl.Reduce(dsl.SlidingCountWindow(-3, 1), user, dsl.Count[click]())).
		Apply("id4", id).
		Apply("ok", dsl.Reduce(dsl.SlidingCountWindow(3, 3), user, dsl.Count[click]())).
		Sink("out", dsl.DevNullSink[dsl.Windowed[string, int]]()).
		Build()
	var be *dsl.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("want *BuildError, got %v", err)
	}
	want := []string{
		`step "zero": count window size must be positive; got 0`,
		`step "negstep": count window step must be positive; got -1`,
		`step "bigstep": count window step 4 is more than the window size 3`,
		`step "negsize": count window size must be positive; got -3`,
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

// TestCountWindowOutput: a count window's result spans its messages'
// event times, and is timestamped at the newest, through ReduceAll too.
func TestCountWindowOutput(t *testing.T) {
	g := dsl.StreamingSource("src", "clicks").
		Apply("count", dsl.Reduce(dsl.TumblingCountWindow(2), func(b []byte) string { return string(b) }, dsl.Count[[]byte]())).
		Apply("ser", dsl.Serializer[dsl.Windowed[string, int]]()).
		Apply("all", dsl.ReduceAll(dsl.SlidingCountWindow(4, 2), dsl.Count[[]byte]())).
		Sink("out", dsl.DevNullSink[dsl.WindowValue[int]]()).
		MustBuild()
	r := g.Node("count").Reducer()
	if w := r.Window(); w.Kind() != dsl.WindowTumblingCount || w.Count() != 2 {
		t.Fatalf("window %v", w)
	}
	m, err := r.Output("u", dsl.CountBounds(at(time.Second).UnixMilli(), at(3*time.Second).UnixMilli()), 2)
	if err != nil {
		t.Fatal(err)
	}
	want := dsl.Windowed[string, int]{Key: "u", Start: at(time.Second), End: at(3*time.Second + time.Millisecond), Value: 2}
	if m.Payload != want || !m.Timestamp.Equal(at(3*time.Second)) || string(m.Key) != "u" {
		t.Errorf("output %+v, want %+v at %v", m, want, at(3*time.Second))
	}
	all := g.Node("all").Reducer()
	if w := all.Window(); w.Kind() != dsl.WindowSlidingCount || w.Step() != 2 {
		t.Fatalf("ReduceAll window %v", w)
	}
	m, err = all.Output(nil, dsl.CountBounds(at(0).UnixMilli(), at(0).UnixMilli()), 4)
	if v, ok := m.Payload.(dsl.WindowValue[int]); err != nil || !ok || v.Value != 4 || !m.Timestamp.Equal(at(0)) {
		t.Errorf("ReduceAll output %+v, %v", m, err)
	}
}

// Events counted three at a time per type, as Sentry Streams'
// TumblingWindow(window_size=3), and what a runner emits for a full
// window: it spans the event times of its three messages.
func ExampleTumblingCountWindow() {
	pipeline := dsl.StreamingSource("myinput", "events").
		Apply("parse", dsl.Parser[Event]()).
		Apply("count", dsl.Reduce(dsl.TumblingCountWindow(3),
			func(e Event) string { return e.Type }, dsl.Count[Event]())).
		Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
		Sink("myoutput", dsl.StreamSink("event-counts"))
	g, err := pipeline.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	r := g.Node("count").Reducer()
	fmt.Println(r.Window())
	acc, _ := r.NewAccumulator()
	t := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	var first, newest time.Time
	for i := range 3 {
		at := t.Add(time.Duration(i) * 1500 * time.Millisecond)
		if i == 0 {
			first = at
		}
		newest = at
		acc, _ = r.Add(acc, Event{Type: "click"})
	}
	m, _ := r.Output("click", dsl.CountBounds(first.UnixMilli(), newest.UnixMilli()), acc)
	_ = g.Node("serialize").Process(m, func(out dsl.Any) {
		fmt.Printf("timestamp %s\n%s\n", out.Timestamp.Format(time.RFC3339Nano), out.Payload)
	})
	// Output:
	// tumbling(3 messages)
	// timestamp 2024-01-01T12:00:03Z
	// {"key":"click","start":"2024-01-01T12:00:00Z","end":"2024-01-01T12:00:03.001Z","value":3}
}
