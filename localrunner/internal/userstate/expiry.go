package userstate

import (
	"container/heap"
	"fmt"
	"iter"
	"maps"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
)

// NewExpiring returns an empty store whose Expire drops the cells of
// expired windows: windows encoded with wc, which expire allowedLateness
// milliseconds after their max timestamp. A nil wc, or the global window
// coder (the global window never expires), gives a store like NewMemory's.
func NewExpiring(wc *coder.WindowCoder, allowedLateness int64) *Memory {
	m := NewMemory()
	if wc != nil && wc.Kind != coder.GlobalWindow {
		m.exp = &expiry{dec: exec.MakeWindowDecoder(wc), lateness: max(allowedLateness, 0), wins: map[string]*expWindow{}}
	}
	return m
}

// expiry indexes the cells of a Memory by window, so that Expire finds the
// cells of the windows that expired without looking at the others: each
// distinct encoded window is decoded once, when a Commit (or Restore)
// first brings a cell in it, and the windows that can expire wait in a
// min-heap by expiry.
type expiry struct {
	dec      exec.WindowDecoder
	lateness int64
	// wins are the windows known, by encoding: every window of a cell,
	// and windows whose cells were emptied, until they expire.
	wins map[string]*expWindow
	heap expHeap
}

// expWindow is one window of the index.
type expWindow struct {
	enc    string
	expiry mtime.Time
	// cells are the cells holding data in the window; nil for a window
	// that never expires (the global window, or an expiry past the end of
	// time), which is neither in the heap nor tracked cell by cell.
	cells map[Key]struct{}
}

// window returns the index entry of an encoded window, decoding it the
// first time.
func (x *expiry) window(enc string) (*expWindow, error) {
	if w := x.wins[enc]; w != nil {
		return w, nil
	}
	dw, err := x.dec.DecodeSingle(strings.NewReader(enc))
	if err != nil {
		return nil, fmt.Errorf("localrunner: user state in window %x: %v", enc, err)
	}
	w := &expWindow{enc: enc, expiry: Expiry(dw.MaxTimestamp(), x.lateness)}
	x.wins[enc] = w
	if w.expiry < mtime.MaxTimestamp {
		w.cells = map[Key]struct{}{}
		heap.Push(&x.heap, w)
	}
	return w, nil
}

// learn indexes the windows a Txn writes to, before Commit changes
// anything: a window that does not decode fails the Commit whole.
func (x *expiry) learn(t *Txn) error {
	if x == nil {
		return nil
	}
	for _, keys := range []iter.Seq[Key]{maps.Keys(t.bags), maps.Keys(t.multimaps), maps.Keys(t.lists)} {
		for k := range keys {
			if _, err := x.window(k.Window); err != nil {
				return err
			}
		}
	}
	return nil
}

// track notes whether cell k holds data after a change; its window was
// indexed (learn, Restore).
func (x *expiry) track(k Key, live bool) {
	if x == nil {
		return
	}
	w := x.wins[k.Window]
	switch {
	case w == nil || w.cells == nil:
	case live:
		w.cells[k] = struct{}{}
	default:
		delete(w.cells, k)
	}
}

// holds reports whether cell k holds data.
func (m *Memory) holds(k Key) bool {
	_, b := m.bags[k]
	_, mm := m.multimaps[k]
	_, l := m.lists[k]
	return b || mm || l
}

// Expire drops every cell whose window expired at watermark wm (its max
// timestamp plus the allowed lateness is before wm; the global window
// never expires) and returns how many it dropped (counted as Size counts
// them). The next Checkpoint deletes them. A store made by NewMemory
// drops nothing.
//
// It must not run while a Txn of the store is open: the engine calls it
// between bundles of the stage.
func (m *Memory) Expire(wm mtime.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	x := m.exp
	if x == nil {
		return 0
	}
	n := 0
	for len(x.heap) > 0 && x.heap[0].expiry < wm {
		w := heap.Pop(&x.heap).(*expWindow)
		delete(x.wins, w.enc)
		for k := range w.cells {
			n += m.drop(k)
		}
	}
	return n
}

// drop deletes cell k, noting the change for the next checkpoint, and
// returns the number of cells it held.
func (m *Memory) drop(k Key) int {
	n := 0
	if _, ok := m.bags[k]; ok {
		delete(m.bags, k)
		m.changed.bag(k)
		n++
	}
	if mm, ok := m.multimaps[k]; ok {
		n += len(mm)
		delete(m.multimaps, k)
		m.changed.clearMultimap(k)
	}
	if _, ok := m.lists[k]; ok {
		delete(m.lists, k)
		m.changed.list(k)
		n++
	}
	return n
}

// expHeap is a min-heap of windows by expiry.
type expHeap []*expWindow

func (h expHeap) Len() int           { return len(h) }
func (h expHeap) Less(i, j int) bool { return h[i].expiry < h[j].expiry }
func (h expHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expHeap) Push(x any)        { *h = append(*h, x.(*expWindow)) }
func (h *expHeap) Pop() any {
	old := *h
	n := len(old) - 1
	w := old[n]
	old[n] = nil
	*h = old[:n]
	return w
}

// Expiry is when the state of a window whose max timestamp is end expires
// with an allowed lateness of lateness ms: once a watermark is past it.
// The global window (and a window ending with it) never expires:
// MaxTimestamp.
func Expiry(end mtime.Time, lateness int64) mtime.Time {
	if end < mtime.EndOfGlobalWindowTime && end <= mtime.MaxTimestamp-mtime.Time(lateness) {
		return end + mtime.Time(lateness)
	}
	return mtime.MaxTimestamp
}
