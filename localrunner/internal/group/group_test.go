package group

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
)

var kvCoder = coder.NewKV([]*coder.Coder{coder.NewString(), coder.NewVarInt()})

type elm struct {
	key string
	val int64
	ts  int64 // ms
	ws  []typex.Window
}

func encode(t *testing.T, wc *coder.WindowCoder, es ...elm) ([]byte, []int) {
	t.Helper()
	enc := exec.MakeElementEncoder(coder.NewW(kvCoder, wc))
	var b bytes.Buffer
	var ends []int
	for _, e := range es {
		fv := &exec.FullValue{Elm: e.key, Elm2: e.val, Timestamp: mtime.FromMilliseconds(e.ts), Windows: e.ws, Pane: typex.NoFiringPane()}
		if err := enc.Encode(fv, &b); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, b.Len())
	}
	return b.Bytes(), ends
}

// decode renders fired panes as "key[start:end)@ts=v,v pane".
func decode(t *testing.T, wc *coder.WindowCoder, res *Result[int]) []string {
	t.Helper()
	dec := exec.MakeElementDecoder(coder.NewW(coder.NewKV([]*coder.Coder{coder.NewString(), coder.NewI(coder.NewVarInt())}), wc))
	var out []string
	start := 0
	for _, end := range res.Ends {
		fv, err := dec.Decode(bytes.NewReader(res.Data[start:end]))
		if err != nil {
			t.Fatal(err)
		}
		start = end
		var vs []string
		for _, v := range fv.Elm2.([]int64) {
			vs = append(vs, fmt.Sprint(v))
		}
		slices.Sort(vs)
		w := fv.Windows[0]
		ws := "[global]"
		if iw, ok := w.(window.IntervalWindow); ok {
			ws = fmt.Sprintf("[%d:%d)", iw.Start.Milliseconds(), iw.End.Milliseconds())
		}
		pane := paneString(fv.Pane)
		ts := "eogw"
		if fv.Timestamp != mtime.EndOfGlobalWindowTime {
			ts = fmt.Sprint(fv.Timestamp.Milliseconds())
		}
		out = append(out, fmt.Sprintf("%v%s@%s=%s %s", fv.Elm, ws, ts, strings.Join(vs, ","), pane))
	}
	slices.Sort(out)
	return out
}

// paneString renders a pane as "timing#index/non-speculative index",
// then ",first" and ",last" when they are.
func paneString(p typex.PaneInfo) string {
	timing := map[typex.PaneTiming]string{typex.PaneEarly: "early", typex.PaneOnTime: "ontime", typex.PaneLate: "late", typex.PaneUnknown: "unknown"}[p.Timing]
	pane := fmt.Sprintf("%s#%d/%d", timing, p.Index, p.NonSpeculativeIndex)
	if p.IsFirst {
		pane += ",first"
	}
	if p.IsLast {
		pane += ",last"
	}
	return pane
}

func iw(start, end int64) typex.Window {
	return window.IntervalWindow{Start: mtime.FromMilliseconds(start), End: mtime.FromMilliseconds(end)}
}

func input(t *testing.T, wc *coder.WindowCoder, arrival mtime.Time, tags []int, es ...elm) Input[int] {
	data, ends := encode(t, wc, es...)
	return Input[int]{Data: data, Ends: ends, Arrival: arrival, Tags: tags}
}

// newBuffer returns a buffer, combining with the combiner if one is given.
func newBuffer(t *testing.T, wc *coder.WindowCoder, s Strategy, c ...Combiner) *Buffer[int] {
	t.Helper()
	cfg := Config{Input: coder.NewW(kvCoder, wc), Strategy: s}
	if len(c) > 0 {
		cfg.Combiner = c[0]
	}
	b, err := New[int](cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func check(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestGlobalWindowFiresAtTheEnd(t *testing.T) {
	wc := coder.NewGlobalWindow()
	b := newBuffer(t, wc, Strategy{})
	g := window.SingleGlobalWindow
	res, err := b.Process([]Input[int]{input(t, wc, mtime.MinTimestamp, nil,
		elm{"a", 1, 0, g}, elm{"b", 2, 0, g}, elm{"a", 3, 5, g})}, mtime.MinTimestamp, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ends) != 0 || res.Pending != 1 || res.Hold != mtime.EndOfGlobalWindowTime || res.Elements != 3 {
		t.Fatalf("before the end: %+v", res)
	}
	res, err = b.Process(nil, mtime.MaxTimestamp, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "at the end", decode(t, wc, res), "a[global]@eogw=1,3 ontime#0/0,first,last", "b[global]@eogw=2 ontime#0/0,first,last")
	if res.Pending != 0 || res.Hold != mtime.MaxTimestamp || res.Next != mtime.MaxTimestamp {
		t.Errorf("after the end: %+v", res)
	}
}

func TestFixedWindowsFireOnWatermarkAndDropLateData(t *testing.T) {
	wc := coder.NewIntervalWindow()
	b := newBuffer(t, wc, Strategy{})
	res, err := b.Process([]Input[int]{input(t, wc, 0, []int{7},
		elm{"a", 1, 1000, []typex.Window{iw(0, 10000)}},
		elm{"a", 2, 12000, []typex.Window{iw(10000, 20000)}},
		elm{"b", 3, 9000, []typex.Window{iw(0, 10000)}})}, 5000, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ends) != 0 || res.Hold != 9999 || res.Next != 9999 || !slices.Equal(res.Held, []int{7, 7}) {
		t.Fatalf("before the first end: %+v", res)
	}
	// The watermark passes the end of [0, 10000); a late element for it
	// arrives with it.
	res, err = b.Process([]Input[int]{input(t, wc, 10000, []int{8}, elm{"c", 4, 9500, []typex.Window{iw(0, 10000)}})}, 10000, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "first window", decode(t, wc, res), "a[0:10000)@9999=1 ontime#0/0,first,last", "b[0:10000)@9999=3 ontime#0/0,first,last")
	if res.Dropped != 1 || !slices.Equal(res.Tags, []int{7}) || !slices.Equal(res.Released, []int{7}) || res.Hold != 19999 {
		t.Errorf("first window: %+v", res)
	}
	res, err = b.Process(nil, mtime.MaxTimestamp, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "second window", decode(t, wc, res), "a[10000:20000)@19999=2 ontime#0/0,first,last")
}

func TestSlidingWindowsGroupEachWindow(t *testing.T) {
	wc := coder.NewIntervalWindow()
	b := newBuffer(t, wc, Strategy{})
	res, err := b.Process([]Input[int]{input(t, wc, 0, nil,
		elm{"k", 1, 1000, []typex.Window{iw(0, 2000), iw(-1000, 1000+1)}},
		elm{"k", 2, 1500, []typex.Window{iw(0, 2000), iw(1000, 3000)}})}, mtime.MaxTimestamp, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "sliding", decode(t, wc, res), "k[-1000:1001)@1000=1 ontime#0/0,first,last", "k[0:2000)@1999=1,2 ontime#0/0,first,last", "k[1000:3000)@2999=2 ontime#0/0,first,last")
}

func TestSessionsMerge(t *testing.T) {
	wc := coder.NewIntervalWindow()
	b := newBuffer(t, wc, Strategy{Merging: true})
	gap := int64(1000)
	s := func(key string, v, ts int64) elm { return elm{key, v, ts, []typex.Window{iw(ts, ts+gap)}} }
	res, err := b.Process([]Input[int]{input(t, wc, 0, []int{1}, s("a", 1, 0), s("a", 2, 3000), s("b", 3, 500))}, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending != 3 {
		t.Fatalf("three sessions pending, got %+v", res)
	}
	// 1000 and 2000 bridge a's two sessions (touching counts); 1400 extends b's.
	res, err = b.Process([]Input[int]{input(t, wc, 0, []int{2}, s("a", 4, 1000), s("a", 5, 2000), s("b", 6, 1400))}, 0, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending != 2 {
		t.Fatalf("two sessions pending, got %+v", res)
	}
	// a's merged session holds tag 1 from both halves: once is released.
	if !slices.Equal(res.Released, []int{1}) {
		t.Errorf("released %v, want [1]", res.Released)
	}
	res, err = b.Process(nil, 2500, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "b's session", decode(t, wc, res), "b[500:2400)@2399=3,6 ontime#0/0,first,last")
	res, err = b.Process(nil, mtime.MaxTimestamp, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "a's session", decode(t, wc, res), "a[0:4000)@3999=1,2,4,5 ontime#0/0,first,last")
	if !slices.Equal(res.Tags, []int{1, 2}) && !slices.Equal(res.Tags, []int{2, 1}) {
		t.Errorf("tags %v, want 1 and 2", res.Tags)
	}
}

func TestLateFiringsWithinAllowedLateness(t *testing.T) {
	wc := coder.NewIntervalWindow()
	for _, acc := range []bool{false, true} {
		t.Run(fmt.Sprintf("accumulating=%v", acc), func(t *testing.T) {
			b := newBuffer(t, wc, Strategy{AllowedLateness: 5000, Accumulating: acc})
			w := []typex.Window{iw(0, 10000)}
			res, err := b.Process([]Input[int]{input(t, wc, 0, nil, elm{"a", 1, 1000, w})}, 10000, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			check(t, "on time", decode(t, wc, res), "a[0:10000)@9999=1 ontime#0/0,first")
			if res.Next != 14999 {
				t.Errorf("next %v, want the window's expiry 14999", res.Next)
			}
			res, err = b.Process([]Input[int]{input(t, wc, 12000, nil, elm{"a", 2, 2000, w})}, 12000, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			want := "a[0:10000)@9999=2 late#1/1"
			if acc {
				want = "a[0:10000)@9999=1,2 late#1/1"
			}
			check(t, "late", decode(t, wc, res), want)
			// Past the expiry: dropped, and the window is forgotten.
			res, err = b.Process([]Input[int]{input(t, wc, 15000, nil, elm{"a", 3, 3000, w})}, 15000, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Ends) != 0 || res.Dropped != 1 || len(b.wins) != 0 || res.Next != mtime.MaxTimestamp {
				t.Errorf("after expiry: %+v, %d windows", res, len(b.wins))
			}
		})
	}
}

func TestKeysCompareByEncoding(t *testing.T) {
	wc := coder.NewGlobalWindow()
	b, err := New[int](Config{Input: coder.NewW(coder.NewKV([]*coder.Coder{coder.NewBytes(), coder.NewVarInt()}), wc)})
	if err != nil {
		t.Fatal(err)
	}
	enc := exec.MakeElementEncoder(coder.NewW(coder.NewKV([]*coder.Coder{coder.NewBytes(), coder.NewVarInt()}), wc))
	var buf bytes.Buffer
	var ends []int
	for i, k := range [][]byte{[]byte("x"), nil, []byte("x"), {}} {
		fv := &exec.FullValue{Elm: k, Elm2: int64(i), Timestamp: 0, Windows: window.SingleGlobalWindow, Pane: typex.NoFiringPane()}
		if err := enc.Encode(fv, &buf); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, buf.Len())
	}
	res, err := b.Process([]Input[int]{{Data: buf.Bytes(), Ends: ends}}, mtime.MaxTimestamp, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ends) != 2 {
		t.Errorf("%d groups, want 2 (nil and empty keys encode alike)", len(res.Ends))
	}
}

func TestElementsArrivingAfterTheEndFireLate(t *testing.T) {
	wc := coder.NewIntervalWindow()
	b := newBuffer(t, wc, Strategy{AllowedLateness: 5000})
	w := []typex.Window{iw(0, 10000)}
	// One task gets both: 1 arrived before the end, 2 after; they are not
	// in the same pane.
	res, err := b.Process([]Input[int]{
		input(t, wc, 0, nil, elm{"a", 1, 1000, w}),
		input(t, wc, 11000, nil, elm{"a", 2, 2000, w}),
	}, 11000, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "panes", decode(t, wc, res), "a[0:10000)@9999=1 ontime#0/0,first", "a[0:10000)@9999=2 late#1/1")
}

// A late element missing several windows (sliding ones) is dropped once,
// with the first window that dropped it as its only window, so that the
// dead-letter queue gets one record of it; an element late for one of its
// windows only is counted in the others and dropped for that one.
func TestDroppedOncePerElement(t *testing.T) {
	wc := coder.NewIntervalWindow()
	b, err := New[int](Config{Input: coder.NewW(kvCoder, wc), KeepDropped: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Process([]Input[int]{input(t, wc, 39000, nil,
		elm{"late", 1, 2000, []typex.Window{iw(-20000, 10000), iw(-10000, 20000), iw(0, 30000)}},
		elm{"half", 2, 25000, []typex.Window{iw(0, 30000), iw(10000, 40000), iw(20000, 50000)}})}, 39000, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Dropped != 4 || len(res.DroppedEnds) != 2 {
		t.Fatalf("dropped %d windows in %d elements, want 4 windows in 2 elements", res.Dropped, len(res.DroppedEnds))
	}
	dec := exec.MakeElementDecoder(coder.NewW(kvCoder, wc))
	r := bytes.NewReader(res.DroppedData)
	var got []string
	for range res.DroppedEnds {
		fv, err := dec.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%v=%v@%d %v", fv.Elm, fv.Elm2, fv.Timestamp.Milliseconds(), fv.Windows))
	}
	check(t, "dropped", got, "late=1@2000 [[-20000:10000)]", "half=2@25000 [[0:30000)]")
	res, err = b.Process(nil, mtime.MaxTimestamp, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "fired", decode(t, wc, res), "half[10000:40000)@39999=2 ontime#0/0,first,last", "half[20000:50000)@49999=2 ontime#0/0,first,last")
}
