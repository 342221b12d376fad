package group

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
)

// TriggerKind is the kind of a trigger node.
type TriggerKind uint8

// The trigger kinds, as in Beam's runner API (pipepb.Trigger).
const (
	// TriggerDefault fires when the watermark passes the end of the
	// window, and never finishes. At the root of a strategy it is the
	// default trigger (Strategy.Trigger nil).
	TriggerDefault TriggerKind = iota
	// TriggerAlways fires at every element and never finishes.
	TriggerAlways
	// TriggerNever never fires: the window's data comes out in one pane
	// when the window expires.
	TriggerNever
	// TriggerAfterCount fires once Count elements arrived, then finishes.
	TriggerAfterCount
	// TriggerAfterProcessingTime fires once the processing time reaches
	// the first element's arrival time put through Transforms, then
	// finishes.
	TriggerAfterProcessingTime
	// TriggerAfterSynchronizedProcessingTime fires once the processing
	// time passes that of the first element (one worker: the next moment,
	// so the elements that arrived together fire together), then finishes.
	TriggerAfterSynchronizedProcessingTime
	// TriggerAfterEndOfWindow fires when the watermark passes the end of
	// the window; before, whenever Subs[0] (early firings, nil: none)
	// fires; after, whenever Subs[1] (late firings) fires; without late
	// firings it finishes at the end of the window.
	TriggerAfterEndOfWindow
	// TriggerRepeat fires whenever Subs[0] fires, resetting it when it
	// finishes.
	TriggerRepeat
	// TriggerAfterAny fires when any of Subs fires, then finishes.
	TriggerAfterAny
	// TriggerAfterAll fires when all of Subs fired, then finishes.
	TriggerAfterAll
	// TriggerAfterEach fires as Subs[0] until it finishes, then as
	// Subs[1], and so on; it finishes with the last.
	TriggerAfterEach
	// TriggerOrFinally fires as Subs[0] (reset when it finishes) until
	// Subs[1] fires, which finishes it.
	TriggerOrFinally
)

// Trigger is a trigger tree.
type Trigger struct {
	Kind TriggerKind
	// Count of TriggerAfterCount.
	Count int64
	// Transforms of TriggerAfterProcessingTime, applied in order.
	Transforms []TimestampTransform
	// Subs are the sub-triggers (see the kinds).
	Subs []*Trigger
}

// TimestampTransform is a processing-time transform: add Delay, then,
// when Period > 0, align up to the next multiple of Period after Offset.
// All in milliseconds.
type TimestampTransform struct {
	Delay, Period, Offset int64
}

func (t *Trigger) String() string {
	if t == nil {
		return "nil"
	}
	name := [...]string{"Default", "Always", "Never", "AfterCount", "AfterProcessingTime", "AfterSynchronizedProcessingTime",
		"AfterEndOfWindow", "Repeat", "AfterAny", "AfterAll", "AfterEach", "OrFinally"}[t.Kind]
	switch t.Kind {
	case TriggerAfterCount:
		return fmt.Sprintf("%s(%d)", name, t.Count)
	case TriggerAfterProcessingTime:
		return fmt.Sprintf("%s%v", name, t.Transforms)
	}
	if len(t.Subs) == 0 {
		return name
	}
	var subs []string
	for _, s := range t.Subs {
		subs = append(subs, s.String())
	}
	return name + "(" + strings.Join(subs, ", ") + ")"
}

// node is a trigger compiled: nodes in preorder, a pane's state has one
// tstate per node.
type node struct {
	kind       TriggerKind
	count      int64
	transforms []TimestampTransform
	subs       []int // node indexes, -1 for an absent sub-trigger
	end        int   // one past the node's last descendant
}

type trig struct {
	nodes []node
	never bool // the root is Never: no ON_TIME pane
	apt   bool // some node is AfterProcessingTime
}

// tstate is a node's state in a pane: finished; set (AfterProcessingTime
// and AfterSynchronizedProcessingTime: a deadline is set;
// AfterEndOfWindow: the end of the window passed) and v (AfterCount: the
// count; AfterProcessingTime and AfterSynchronizedProcessingTime: the
// deadline, ms).
type tstate struct {
	done, set bool
	v         int64
}

// tctx is what a trigger sees: whether the watermark passed the end of the
// window, and the processing time (ms).
type tctx struct {
	eow bool
	now int64
}

func compileTrigger(t *Trigger) (*trig, error) {
	tr := &trig{never: t.Kind == TriggerNever}
	if _, err := tr.add(t); err != nil {
		return nil, err
	}
	return tr, nil
}

func (tr *trig) add(t *Trigger) (int, error) {
	i := len(tr.nodes)
	tr.nodes = append(tr.nodes, node{kind: t.Kind, count: t.Count, transforms: t.Transforms})
	var subs []int
	need := func(n int) error {
		if len(t.Subs) != n {
			return fmt.Errorf("localrunner: trigger %v: %d sub-triggers, want %d", t, len(t.Subs), n)
		}
		return nil
	}
	var err error
	switch t.Kind {
	case TriggerDefault, TriggerAlways, TriggerNever:
		err = need(0)
	case TriggerAfterSynchronizedProcessingTime:
		tr.apt = true
		err = need(0)
	case TriggerAfterCount:
		if err = need(0); err == nil && t.Count < 1 {
			err = fmt.Errorf("localrunner: trigger %v: count below 1", t)
		}
	case TriggerAfterProcessingTime:
		tr.apt = true
		if err = need(0); err == nil {
			for _, x := range t.Transforms {
				if x.Delay < 0 || x.Period < 0 {
					err = fmt.Errorf("localrunner: trigger %v: negative delay or period", t)
				}
			}
		}
	case TriggerAfterEndOfWindow, TriggerOrFinally:
		err = need(2)
	case TriggerRepeat:
		err = need(1)
	case TriggerAfterAny, TriggerAfterAll, TriggerAfterEach:
		if len(t.Subs) == 0 {
			err = fmt.Errorf("localrunner: trigger %v without sub-triggers", t)
		}
	default:
		err = fmt.Errorf("localrunner: trigger kind %d", t.Kind)
	}
	if err != nil {
		return 0, err
	}
	for _, s := range t.Subs {
		if s == nil {
			if t.Kind != TriggerAfterEndOfWindow {
				return 0, fmt.Errorf("localrunner: trigger %v: a nil sub-trigger", t)
			}
			subs = append(subs, -1)
			continue
		}
		j, err := tr.add(s)
		if err != nil {
			return 0, err
		}
		subs = append(subs, j)
	}
	tr.nodes[i].subs = subs
	tr.nodes[i].end = len(tr.nodes)
	return i, nil
}

func (tr *trig) onElement(s []tstate, i int, c tctx) {
	st := &s[i]
	if st.done {
		return
	}
	n := &tr.nodes[i]
	switch n.kind {
	case TriggerAfterCount:
		st.v++
	case TriggerAfterProcessingTime:
		if !st.set {
			st.set, st.v = true, n.deadline(c.now)
		}
	case TriggerAfterSynchronizedProcessingTime:
		if !st.set {
			st.set, st.v = true, c.now+1
		}
	case TriggerAfterEndOfWindow:
		if sub := n.subs[0]; !st.set && sub >= 0 {
			tr.onElement(s, sub, c)
		} else if sub := n.subs[1]; st.set && sub >= 0 {
			tr.onElement(s, sub, c)
		}
	case TriggerRepeat, TriggerAfterAny, TriggerAfterAll, TriggerOrFinally:
		for _, sub := range n.subs {
			tr.onElement(s, sub, c)
		}
	case TriggerAfterEach:
		for _, sub := range n.subs {
			if !s[sub].done {
				tr.onElement(s, sub, c)
				break
			}
		}
	}
}

func (n *node) deadline(now int64) int64 {
	t := now
	for _, x := range n.transforms {
		t += x.Delay
		if x.Period > 0 {
			a := t - x.Offset
			t = a - ((a%x.Period)+x.Period)%x.Period + x.Period + x.Offset
		}
	}
	return t
}

func (tr *trig) shouldFire(s []tstate, i int, c tctx) bool {
	st := &s[i]
	if st.done {
		return false
	}
	n := &tr.nodes[i]
	switch n.kind {
	case TriggerDefault:
		return c.eow
	case TriggerAlways:
		return true
	case TriggerAfterCount:
		return st.v >= n.count
	case TriggerAfterProcessingTime:
		return st.set && c.now >= st.v
	case TriggerAfterSynchronizedProcessingTime:
		return st.set && c.now >= st.v
	case TriggerAfterEndOfWindow:
		if !st.set {
			return c.eow || n.subs[0] >= 0 && tr.shouldFire(s, n.subs[0], c)
		}
		return n.subs[1] >= 0 && tr.shouldFire(s, n.subs[1], c)
	case TriggerRepeat:
		return tr.shouldFire(s, n.subs[0], c)
	case TriggerAfterAny, TriggerOrFinally:
		for _, sub := range n.subs {
			if tr.shouldFire(s, sub, c) {
				return true
			}
		}
	case TriggerAfterAll:
		for _, sub := range n.subs {
			if !s[sub].done && !tr.shouldFire(s, sub, c) {
				return false
			}
		}
		return true
	case TriggerAfterEach:
		for _, sub := range n.subs {
			if !s[sub].done {
				return tr.shouldFire(s, sub, c)
			}
		}
	}
	return false
}

// onFire commits a firing (shouldFire was true).
func (tr *trig) onFire(s []tstate, i int, c tctx) {
	st := &s[i]
	n := &tr.nodes[i]
	switch n.kind {
	case TriggerAfterCount, TriggerAfterProcessingTime, TriggerAfterSynchronizedProcessingTime:
		*st = tstate{done: true}
	case TriggerAfterEndOfWindow:
		if !st.set {
			if c.eow {
				if early := n.subs[0]; early >= 0 {
					tr.reset(s, early)
				}
				st.set = true
				st.done = n.subs[1] < 0
				return
			}
			early := n.subs[0]
			tr.onFire(s, early, c)
			if s[early].done {
				tr.reset(s, early)
			}
			return
		}
		late := n.subs[1]
		tr.onFire(s, late, c)
		if s[late].done {
			tr.reset(s, late)
		}
	case TriggerRepeat:
		sub := n.subs[0]
		tr.onFire(s, sub, c)
		if s[sub].done {
			tr.reset(s, sub)
		}
	case TriggerAfterAny:
		for _, sub := range n.subs {
			if tr.shouldFire(s, sub, c) {
				tr.onFire(s, sub, c)
			}
		}
		tr.reset(s, i)
		s[i].done = true
	case TriggerAfterAll:
		all := true
		for _, sub := range n.subs {
			if !s[sub].done {
				tr.onFire(s, sub, c)
			}
			all = all && s[sub].done
		}
		if all {
			tr.reset(s, i)
			s[i].done = true
		}
	case TriggerAfterEach:
		for k, sub := range n.subs {
			if s[sub].done {
				continue
			}
			tr.onFire(s, sub, c)
			if s[sub].done && k == len(n.subs)-1 {
				tr.reset(s, i)
				s[i].done = true
			}
			return
		}
	case TriggerOrFinally:
		main, fin := n.subs[0], n.subs[1]
		if tr.shouldFire(s, fin, c) {
			tr.reset(s, i)
			s[i].done = true
			return
		}
		tr.onFire(s, main, c)
		if s[main].done {
			tr.reset(s, main)
		}
	}
}

// reset clears node i and its descendants.
func (tr *trig) reset(s []tstate, i int) {
	clear(s[i:tr.nodes[i].end])
}

// deadline returns the earliest processing time at which an unfinished
// AfterProcessingTime node of the state may fire.
func (tr *trig) deadline(s []tstate) (int64, bool) {
	var at int64
	ok := false
	if !tr.apt {
		return 0, false
	}
	for i := range tr.nodes {
		k := tr.nodes[i].kind
		if (k == TriggerAfterProcessingTime || k == TriggerAfterSynchronizedProcessingTime) && s[i].set && !s[i].done && (!ok || s[i].v < at) {
			at, ok = s[i].v, true
		}
	}
	return at, ok
}

// appendState encodes a pane's trigger state.
func appendState(v []byte, s []tstate) []byte {
	for _, st := range s {
		var f byte
		if st.done {
			f |= 1
		}
		if st.set {
			f |= 2
		}
		v = append(v, f)
		v = binary.AppendVarint(v, st.v)
	}
	return v
}

func readState(v []byte, s []tstate) ([]byte, error) {
	for i := range s {
		if len(v) == 0 {
			return nil, errors.New("truncated trigger state")
		}
		f := v[0]
		x, n := binary.Varint(v[1:])
		if n <= 0 {
			return nil, errors.New("truncated trigger state")
		}
		s[i] = tstate{done: f&1 != 0, set: f&2 != 0, v: x}
		v = v[1+n:]
	}
	return v, nil
}

// The buffer's side of triggers. A window with a trigger waits in the
// fire heap until the watermark passes its end (endOfWindow), then in the
// gc heap until it expires (closeWindow); its panes fire on their own when
// their trigger does, at an element or a processing time.

// addTriggered adds an element to wn's pane of key, then evaluates the
// pane's trigger. An element for a pane whose trigger finished is dropped.
func (b *Buffer[T]) addTriggered(wn *win[T], key, val []byte, arrival mtime.Time, tags []T, res *Result[T]) error {
	p := wn.panes[string(key)]
	if p == nil {
		p = wn.newPane(slices.Clone(key))
		p.ts = make([]tstate, len(b.trig.nodes))
	} else if p.closed {
		res.Dropped++
		return nil
	}
	eow := wn.end < arrival
	if !wn.queued && !wn.kept {
		// A new window: it waits for the watermark, or is past its end.
		if eow {
			wn.kept = true
			heap.Push(&b.gc, wn)
		} else {
			wn.queued = true
			heap.Push(&b.fire, wn)
			b.pending++
		}
	}
	if err := b.addValue(p, val); err != nil {
		return err
	}
	p.pending = true
	b.touch(wn, p)
	for _, t := range tags {
		b.hold(wn, t, res)
	}
	c := tctx{eow: eow, now: b.now}
	b.trig.onElement(p.ts, 0, c)
	if b.trig.shouldFire(p.ts, 0, c) {
		if err := b.fireTriggered(wn, p, c, res); err != nil {
			return err
		}
	}
	b.arm(wn, p)
	return nil
}

// fireTriggered commits a firing of p's trigger and emits what p holds:
// an EARLY pane before the end of the window, LATE after; the last when
// the trigger finished.
func (b *Buffer[T]) fireTriggered(wn *win[T], p *pane, c tctx, res *Result[T]) error {
	b.trig.onFire(p.ts, 0, c)
	timing := typex.PaneEarly
	if c.eow {
		timing = typex.PaneLate
	}
	if err := b.firePane(wn, p, p.pending, timing, b.trig.closes(p.ts), res); err != nil {
		return err
	}
	b.settleTags(wn, res)
	return nil
}

// firePane emits p's pane with the given timing when emit is set, and
// closes p when it is the last.
func (b *Buffer[T]) firePane(wn *win[T], p *pane, emit bool, timing typex.PaneTiming, last bool, res *Result[T]) error {
	if emit {
		if err := b.emitTriggered(wn, p, timing, last, res); err != nil {
			return err
		}
	}
	if last {
		b.closePane(wn, p)
	}
	b.touch(wn, p)
	return nil
}

// closes reports whether a pane whose trigger has state s is closed: its
// trigger finished. As in prism, a lone AfterProcessingTime that fired
// does not close its pane: what comes after waits for the window's end.
func (tr *trig) closes(s []tstate) bool {
	return s[0].done && tr.nodes[0].kind != TriggerAfterProcessingTime
}

// closePane closes p: its trigger finished or its window closes.
func (b *Buffer[T]) closePane(wn *win[T], p *pane) {
	p.closed, p.pending = true, false
	b.clearValues(p)
	b.touch(wn, p)
}

// settleTags hands the window's tags to the output of a firing, and
// detaches them once none of its panes holds data.
func (b *Buffer[T]) settleTags(wn *win[T], res *Result[T]) {
	for _, p := range wn.order {
		if p.pending || b.cfg.Accumulating && !p.closed && p.n > 0 {
			for t := range wn.tags {
				b.outputTag(t, res)
			}
			return
		}
	}
	b.releaseTags(wn, res)
}

// emitTriggered writes p's pane with the given timing.
func (b *Buffer[T]) emitTriggered(wn *win[T], p *pane, timing typex.PaneTiming, last bool, res *Result[T]) error {
	pn := typex.PaneInfo{Timing: timing, Index: int64(p.fired), IsFirst: p.fired == 0, IsLast: last, NonSpeculativeIndex: -1}
	if timing != typex.PaneEarly {
		pn.NonSpeculativeIndex = p.nonSpec
		p.nonSpec++
		p.onTime = true
	}
	return b.write(wn, p, pn, res)
}

// endOfWindow: the watermark passed the end of wn. Every pane holding data
// fires (ON_TIME, or LATE after one), but for the Never trigger, which
// waits for the window to expire; every trigger sees the end of the
// window (AfterEndOfWindow moves to its late firings, or finishes).
func (b *Buffer[T]) endOfWindow(wn *win[T], wm mtime.Time, res *Result[T]) error {
	closing := wn.expiry < wm || wm == mtime.MaxTimestamp
	c := tctx{eow: true, now: b.now}
	for _, p := range wn.order {
		if p.closed {
			continue
		}
		if b.trig.shouldFire(p.ts, 0, c) {
			b.trig.onFire(p.ts, 0, c)
		}
		if err := b.firePane(wn, p, p.pending && (closing || !b.trig.never), p.afterEnd(), closing || b.trig.closes(p.ts), res); err != nil {
			return err
		}
		b.arm(wn, p)
	}
	b.settleTags(wn, res)
	if closing {
		b.releaseTags(wn, res)
		b.drop(wn)
	} else {
		wn.kept = true
		heap.Push(&b.gc, wn)
	}
	return nil
}

// afterEnd is the timing of p's pane fired once the watermark passed the
// end of its window: ON_TIME the first time, LATE after.
func (p *pane) afterEnd() typex.PaneTiming {
	if p.onTime {
		return typex.PaneLate
	}
	return typex.PaneOnTime
}

// closeWindow fires what wn's panes still hold, in their last panes.
func (b *Buffer[T]) closeWindow(wn *win[T], res *Result[T]) error {
	for _, p := range wn.order {
		if p.closed || !p.pending {
			continue
		}
		if err := b.emitTriggered(wn, p, p.afterEnd(), true, res); err != nil {
			return err
		}
	}
	b.releaseTags(wn, res)
	return nil
}

// arm puts p in the timer heap if its trigger waits for a processing time
// it did not wait for yet.
func (b *Buffer[T]) arm(wn *win[T], p *pane) {
	at, ok := int64(0), false
	if !p.closed {
		at, ok = b.trig.deadline(p.ts)
	}
	switch {
	case !ok:
		if p.armed || p.deadline != 0 {
			p.armed, p.deadline = false, 0
			b.touch(wn, p)
		}
		return
	case p.deadline == at && (p.armed || at <= b.now):
		// Waiting already, or came and evaluated: every element
		// evaluates it again.
		return
	}
	p.armed, p.deadline = true, at
	heap.Push(&b.timers, timer[T]{at: at, w: wn, p: p})
	b.touch(wn, p)
}

// fireTimers evaluates the triggers of the panes whose processing time
// came.
func (b *Buffer[T]) fireTimers(res *Result[T]) error {
	for len(b.timers.ts) > 0 && b.timers.ts[0].at <= b.now {
		t := heap.Pop(&b.timers).(timer[T])
		if !t.live() {
			continue
		}
		t.p.armed = false
		b.touch(t.w, t.p)
		c := tctx{eow: t.w.kept, now: b.now}
		if b.trig.shouldFire(t.p.ts, 0, c) {
			if err := b.fireTriggered(t.w, t.p, c, res); err != nil {
				return err
			}
		}
		b.arm(t.w, t.p)
	}
	return nil
}

// nextTimer returns the earliest processing time a pane waits for.
func (b *Buffer[T]) nextTimer() (int64, bool) {
	for len(b.timers.ts) > 0 {
		if t := b.timers.ts[0]; t.live() {
			return t.at, true
		}
		heap.Pop(&b.timers)
	}
	return 0, false
}

type timer[T comparable] struct {
	at int64
	w  *win[T]
	p  *pane
}

// live reports whether the timer is still the pane's.
func (t timer[T]) live() bool {
	return !t.w.gone && !t.p.closed && t.p.armed && t.p.deadline == t.at
}

// timerHeap orders timers by time, then window and pane (deterministic:
// a restored buffer fires in the same order).
type timerHeap[T comparable] struct{ ts []timer[T] }

func (h *timerHeap[T]) Len() int { return len(h.ts) }
func (h *timerHeap[T]) Less(i, j int) bool {
	a, c := h.ts[i], h.ts[j]
	switch {
	case a.at != c.at:
		return a.at < c.at
	case a.w.end != c.w.end:
		return a.w.end < c.w.end
	case start(a.w.w) != start(c.w.w):
		return start(a.w.w) < start(c.w.w)
	}
	return a.p.ord < c.p.ord
}
func (h *timerHeap[T]) Swap(i, j int) { h.ts[i], h.ts[j] = h.ts[j], h.ts[i] }
func (h *timerHeap[T]) Push(x any)    { h.ts = append(h.ts, x.(timer[T])) }
func (h *timerHeap[T]) Pop() any {
	n := len(h.ts) - 1
	x := h.ts[n]
	h.ts[n] = timer[T]{}
	h.ts = h.ts[:n]
	return x
}
