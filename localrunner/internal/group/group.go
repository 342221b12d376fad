// Package group is the runner side of GroupByKey: it buffers keyed,
// windowed elements and, when the watermark passes the end of a window,
// emits one KV<K, Iterable<V>> per key and window with its pane.
//
// It works on encoded bytes, as the SDK wrote them: the windowed-value
// header is decoded (windows, event time), the key is found with the key
// coder and compared by its encoding (as every runner does), and the value
// is the rest of the element. The output is built from those bytes without
// decoding a value: header, key bytes, a 4-byte count, the values.
//
// # Windows and panes
//
// Windows come already assigned (WindowInto runs in the SDK). Non-merging
// windows (global, fixed, sliding) group all keys of a window together.
// Session windows (Strategy.Merging) are merged per key as elements
// arrive: a new window merges with every window of its key it overlaps or
// touches (as prism and Beam Go's direct runner do).
//
// With Beam's default trigger (Strategy.Trigger nil), a pane fires when the
// watermark passes the end of its window (ON_TIME, the first pane); data
// arriving after that but within the allowed lateness fires at once, in a
// LATE pane with the next index. A window is kept until the watermark
// passes its end plus the allowed lateness, then forgotten; an element
// whose window is past that when it arrives is dropped and counted. In
// discarding mode a pane holds only what arrived since the previous one;
// accumulating, everything. Output timestamps are the end of the window
// (the Go SDK's only timestamp combiner).
//
// # Triggers
//
// Other triggers (Strategy.Trigger: every kind the Go SDK makes; not on
// merging windows) are state machines per window and key, as in prism
// (trigger.go): a pane's trigger sees each element (at the processing
// time Process is given), the end of the window, and the processing time
// it waits for (Result.NextProcessing). When it fires the pane emits
// what it holds, EARLY before the end of the window and LATE after, the
// last when the trigger finished, which closes the window for the key:
// later elements are dropped (but for a lone AfterProcessingTime, as in
// prism: what comes after it fired waits for the end of the window). When the watermark passes the end of the
// window, a pane holding data fires ON_TIME whatever its trigger (but
// Never); a window's expiry fires what is left in last panes.
//
// # Combining
//
// With a Combiner (a lifted CombinePerKey), a pane holds one accumulator
// instead of its values: each element's value is added to it as it
// arrives, session windows merge their panes' accumulators, and a pane
// emits KV<K, A>. Everything else (windows, triggers, panes, lateness,
// checkpoints) is the same; the accumulator is encoded only when a pane
// fires or is checkpointed.
//
// # Checkpoints
//
// A durable engine writes each buffer into a state.Batch at quiescent
// points (Checkpoint) and loads it back after a restart (Restore). A
// checkpoint costs what changed since the previous one: from its first
// checkpoint on (which writes everything), a buffer lists the panes that
// changed and the windows it dropped. Under the buffer's prefix:
//
//	(the prefix)                          -> highest watermark processed
//	end | window | session | pane         -> the pane: key, flags, indexes, trigger state
//	end | window | session | pane | chunk -> values added between checkpoints
//
// end is the window's end (maximum timestamp), so the windows past their
// allowed lateness go with one range deletion; window is its encoding
// under the window coder; session is the key of a session window (empty
// otherwise); pane numbers the window's panes in creation order, the
// order they are emitted in. Values discarded after a firing are deleted,
// and so are windows merged into a new session (written whole). Tags are
// not written. A restored buffer judges lateness against the watermark it
// had at least (Watermark): it neither fires again what it fired nor takes
// back what it forgot.
//
// # Ownership
//
// A Buffer is not safe for concurrent use: the engine lends it to one
// goroutine at a time.
//
// # Tags
//
// Elements come with tags (the engine's finalization references, of type
// T). A window holds the tags of the elements buffered in it until it
// fires; the output then carries them. Each result says which tags were
// attached to windows (Held, once per window) and detached (Released), so
// the owner can keep reference counts.
package group

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
)

// Strategy is what the buffer needs of a windowing strategy.
type Strategy struct {
	// Merging is set for session windows.
	Merging bool
	// AllowedLateness, in milliseconds (>= 0).
	AllowedLateness int64
	// Accumulating panes carry everything buffered for their window so
	// far; otherwise (discarding) what arrived since the previous pane.
	Accumulating bool
	// Trigger, nil for Beam's default trigger. Not with Merging.
	Trigger *Trigger
}

// Config of a Buffer.
type Config struct {
	// Input is the windowed-value coder of the KV input.
	Input *coder.Coder
	Strategy
	// Combiner, when set, makes the buffer combine each pane's values as
	// they arrive: it emits KV<K, A> with the pane's accumulator.
	Combiner Combiner
	// KeepDropped makes Process return the elements it drops
	// (Result.Dropped*), instead of only counting them.
	KeepDropped bool
}

// Input is a run of encoded windowed KV values.
type Input[T comparable] struct {
	// Data holds the elements; element i ends at Ends[i], the first starts
	// at Start.
	Data  []byte
	Start int
	Ends  []int
	// Arrival is the input watermark when the elements arrived: an element
	// whose window ended, plus the allowed lateness, before Arrival is
	// dropped.
	Arrival mtime.Time
	// Tags of the elements.
	Tags []T
	// Values are more elements, handed over as Go values (values.go),
	// which Encode writes when the buffer must (as a dropped element):
	// it appends the encoding of a Value's V with the KV's value coder.
	Values []Value
	Encode func(dst []byte, v any) ([]byte, error)
}

// Result of Process.
type Result[T comparable] struct {
	// Data holds the fired panes, encoded KV<K, Iterable<V>> windowed values
	// (one window each), element i ending at Ends[i]; MinTS is their
	// smallest timestamp.
	Data  []byte
	Ends  []int
	MinTS mtime.Time
	// Tags are the tags of the fired panes' elements, each once.
	Tags []T
	// Held lists tags attached to a window (once per window); Released
	// tags detached (as many times as they were held).
	Held, Released []T
	// Elements is the number of elements read; Dropped of them were late
	// beyond the allowed lateness (or came after their pane's trigger
	// finished), counted once per window that dropped them.
	Elements, Dropped int
	// With Config.KeepDropped: the elements dropped in at least one of
	// their windows, each once, as they came (encoded windowed KVs),
	// element i ending at DroppedEnds[i]; DroppedMinTS is their smallest
	// timestamp and DroppedTags the tags of their inputs, each once.
	DroppedData  []byte
	DroppedEnds  []int
	DroppedMinTS mtime.Time
	DroppedTags  []T
	// Hold is the smallest timestamp a pane buffered now will have
	// (mtime.MaxTimestamp when none).
	Hold mtime.Time
	// Next: the buffer has work (a window to fire or to forget) once the
	// watermark passes Next (mtime.MaxTimestamp when none).
	Next mtime.Time
	// NextProcessing: the buffer may fire a pane once the processing time
	// reaches NextProcessing (zero when no trigger waits for it).
	NextProcessing time.Time
	// Pending is the number of windows with data waiting to fire (with a
	// trigger: waiting for the watermark to pass their end).
	Pending int
}

// Buffer groups one GroupByKey's input.
type Buffer[T comparable] struct {
	cfg  Config
	wdec exec.WindowDecoder
	// The windows header last decoded, and their encoding.
	lastWs       []typex.Window
	lastWinBytes []byte
	wenc         exec.WindowEncoder
	scratch      bytes.Buffer // appendDropped's window encoding
	key          keyReader

	wins     map[winKey]*win[T]
	sessions map[string][]*win[T] // Merging: each key's windows
	fire     winHeap[T]           // windows with pending data, by end
	gc       winHeap[T]           // fired windows kept for late data, by expiry
	pending  int
	last     *win[T] // the window of the previous element (not merging)
	outTags  map[T]struct{}
	wm       mtime.Time // the highest watermark processed

	// With a trigger other than the default: the compiled trigger, the
	// processing time of the current Process (ms), and the panes waiting
	// for a processing time, by time.
	trig   *trig
	now    int64
	timers timerHeap[T]

	ckpt checkpointState[T]

	cmb Combiner

	r   bytes.Reader
	out bytes.Buffer
	enc bytes.Buffer // accumulators
}

type winKey struct {
	key string // Merging only: windows are per key
	w   typex.Window
}

type win[T comparable] struct {
	id     winKey
	w      typex.Window
	end    mtime.Time // MaxTimestamp
	expiry mtime.Time // end plus allowed lateness
	panes  map[string]*pane
	order  []*pane // creation order, for a stable output
	tags   map[T]struct{}

	queued, kept   bool
	gone           bool // dropped
	fireIdx, gcIdx int

	// sk is the window's storage key under the checkpoint prefix (end,
	// window, session key), set once it is checkpointed.
	sk string
}

type pane struct {
	key    []byte
	values []byte
	n      int

	// With a combiner (combine.go): the accumulator, decoded (loaded) and
	// changed since values was written (accDirty).
	acc              any
	loaded, accDirty bool
	fired            int // panes emitted
	nonSpec          int64
	pending          bool // values arrived since the last firing
	onTime           bool // the ON_TIME pane was emitted (with a trigger: or a LATE one)

	// With a trigger: its state; closed once it finished (later data is
	// dropped); armed when deadline, the earliest processing time at
	// which it may fire, is in the timer heap.
	ts       []tstate
	closed   bool
	armed    bool
	deadline int64

	// Checkpoints: ord is the pane's index in its window's order; values
	// up to saved are in chunks first to next-1; stale says they were
	// discarded since; dirty that the pane is in the dirty list.
	stale, dirty bool
	ord          uint32
	first, next  uint32
	saved        int
}

// New returns an empty buffer.
func New[T comparable](cfg Config) (*Buffer[T], error) {
	c := cfg.Input
	if c == nil || c.Kind != coder.WindowedValue || c.Window == nil {
		return nil, fmt.Errorf("localrunner: group input coder %v is not a windowed value", c)
	}
	ec := coder.SkipW(c)
	if !coder.IsKV(ec) {
		return nil, fmt.Errorf("localrunner: group input coder %v is not a KV", ec)
	}
	if cfg.AllowedLateness < 0 {
		return nil, fmt.Errorf("localrunner: negative allowed lateness %d", cfg.AllowedLateness)
	}
	if cfg.Merging && c.Window.Kind != coder.IntervalWindow {
		return nil, fmt.Errorf("localrunner: merging windows of kind %v", c.Window.Kind)
	}
	var tr *trig
	if cfg.Trigger != nil {
		if cfg.Merging {
			return nil, fmt.Errorf("localrunner: trigger %v on merging windows is not supported", cfg.Trigger)
		}
		var err error
		if tr, err = compileTrigger(cfg.Trigger); err != nil {
			return nil, err
		}
	}
	return &Buffer[T]{
		trig:     tr,
		cfg:      cfg,
		cmb:      cfg.Combiner,
		wdec:     exec.MakeWindowDecoder(c.Window),
		wenc:     exec.MakeWindowEncoder(c.Window),
		key:      newKeyReader(ec.Components[0]),
		wins:     map[winKey]*win[T]{},
		sessions: map[string][]*win[T]{},
		gc:       winHeap[T]{gc: true},
		outTags:  map[T]struct{}{},
		wm:       mtime.MinTimestamp,
	}, nil
}

// Process buffers the inputs, then fires every window whose end the
// watermark wm has passed and forgets those past their allowed lateness.
// Inputs must come in arrival order (Arrival not decreasing, at most wm):
// before each, the windows its arrival watermark had passed fire, so an
// element that arrived after its window's end is always in a late pane.
// An Arrival below the highest watermark processed (Watermark) counts as
// that watermark: a restored buffer does not take back what it fired or
// forgot when the engine's watermarks start over.
//
// now is the processing time: with a trigger, elements arrive at now
// (AfterProcessingTime counts from it), and the panes whose processing
// time came are evaluated after the inputs. Only the default trigger
// ignores it.
func (b *Buffer[T]) Process(in []Input[T], wm mtime.Time, now time.Time) (*Result[T], error) {
	res := &Result[T]{MinTS: mtime.MaxTimestamp, DroppedMinTS: mtime.MaxTimestamp}
	clear(b.outTags)
	if b.trig != nil {
		b.now = now.UnixMilli()
	}
	for i := range in {
		arrival := max(in[i].Arrival, b.wm)
		if err := b.fireUntil(arrival, res); err != nil {
			return nil, err
		}
		b.last = nil
		if err := b.add(&in[i], arrival, res); err != nil {
			return nil, err
		}
		if err := b.addValues(&in[i], arrival, res); err != nil {
			return nil, err
		}
		// Late data (within the allowed lateness) fires at once.
		if err := b.fireUntil(arrival, res); err != nil {
			return nil, err
		}
	}
	b.wm = max(b.wm, wm)
	if err := b.fireUntil(b.wm, res); err != nil {
		return nil, err
	}
	if b.trig != nil {
		if err := b.fireTimers(res); err != nil {
			return nil, err
		}
	}
	if err := b.expire(b.wm, res); err != nil {
		return nil, err
	}
	res.Hold, res.Next, res.Pending = b.status()
	if b.trig != nil {
		if at, ok := b.nextTimer(); ok {
			res.NextProcessing = time.UnixMilli(at)
		}
	}
	return res, nil
}

// Watermark is the highest watermark the buffer has processed (restored
// with it).
func (b *Buffer[T]) Watermark() mtime.Time { return b.wm }

// status returns the hold, the next time with work and the number of
// windows waiting to fire.
func (b *Buffer[T]) status() (hold, next mtime.Time, pending int) {
	hold, next = mtime.MaxTimestamp, mtime.MaxTimestamp
	if w := b.fire.peek(); w != nil {
		hold, next = w.end, w.end
	}
	if w := b.gc.peek(); w != nil {
		next = min(next, w.expiry)
	}
	return hold, next, b.pending
}

// EventTime reads the event time at the front of an encoded windowed value
// (8 bytes, big endian, shifted by MinInt64: the model's windowed value
// encoding, which every SDK shares), or MinTimestamp if wv is shorter.
func EventTime(wv []byte) mtime.Time {
	if len(wv) < 8 {
		return mtime.MinTimestamp
	}
	return mtime.Time(int64(binary.BigEndian.Uint64(wv)) + math.MinInt64)
}

// AppendEventTime appends the encoding of event time t that EventTime
// reads.
func AppendEventTime(b []byte, t mtime.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.Milliseconds()-math.MinInt64))
}

// appendDropped appends dropped element elm, whose body is its last
// bodyLen bytes, to dst: with late, the first window that dropped it, as
// its only window (b.header just decoded elm). So a message late for
// several windows (sliding ones) is one dropped element, and one record
// of the dead-letter queue, naming the first. Without late (dropped by a
// finished trigger) elm is appended as it is.
func (b *Buffer[T]) appendDropped(dst, elm []byte, bodyLen int, late typex.Window) ([]byte, error) {
	if late == nil {
		return append(dst, elm...), nil
	}
	paneStart, paneEnd := 8+len(b.lastWinBytes), len(elm)-bodyLen
	b.scratch.Reset()
	if err := b.wenc.Encode([]typex.Window{late}, &b.scratch); err != nil {
		return dst, fmt.Errorf("localrunner: group: encoding the window of a dropped element: %w", err)
	}
	dst = append(dst, elm[:8]...)
	dst = append(dst, b.scratch.Bytes()...)
	dst = append(dst, elm[paneStart:paneEnd]...)
	return append(dst, elm[paneEnd:]...), nil
}

// header decodes the windowed value header of elm (event time, windows,
// pane) and leaves b.r at its body. Consecutive elements mostly share
// their windows: when elm's encoded windows are the previous element's,
// their decoding is reused rather than allocated again.
func (b *Buffer[T]) header(elm []byte) ([]typex.Window, mtime.Time, error) {
	if len(elm) < 8 {
		return nil, 0, io.ErrUnexpectedEOF
	}
	ts := EventTime(elm)
	rest := elm[8:]
	ws := b.lastWs
	var err error
	if n := len(b.lastWinBytes); ws != nil && len(rest) >= n && bytes.Equal(rest[:n], b.lastWinBytes) {
		b.r.Reset(rest[n:])
	} else {
		b.r.Reset(rest)
		if ws, err = b.wdec.Decode(&b.r); err != nil {
			b.lastWs = nil
			return nil, 0, err
		}
		b.lastWinBytes = append(b.lastWinBytes[:0], rest[:len(rest)-b.r.Len()]...)
		b.lastWs = ws
	}
	if _, err := coder.DecodePane(&b.r); err != nil {
		return nil, 0, err
	}
	return ws, ts, nil
}

func (b *Buffer[T]) add(in *Input[T], arrival mtime.Time, res *Result[T]) error {
	start := in.Start
	for _, end := range in.Ends {
		if end < start || end > len(in.Data) {
			return fmt.Errorf("localrunner: group input: element bounds %d:%d of %d bytes", start, end, len(in.Data))
		}
		elm := in.Data[start:end]
		start = end
		res.Elements++
		ws, ts, err := b.header(elm)
		if err != nil {
			return fmt.Errorf("localrunner: group input: decoding a windowed value header: %w", err)
		}
		dropped := res.Dropped
		body := elm[len(elm)-b.r.Len():]
		kn, err := b.key.length(body)
		if err != nil {
			return fmt.Errorf("localrunner: group input: decoding a key: %w", err)
		}
		key, val := body[:kn], body[kn:]
		var late typex.Window // the first window that dropped elm
		for _, w := range ws {
			if b.expired(w.MaxTimestamp(), arrival) {
				res.Dropped++
				if late == nil {
					late = w
				}
				continue
			}
			wn, err := b.window(key, w, res)
			if err != nil {
				return err
			}
			if b.trig != nil {
				if err := b.addTriggered(wn, key, val, arrival, in.Tags, res); err != nil {
					return err
				}
				continue
			}
			if err := b.append(wn, key, val); err != nil {
				return err
			}
			for _, t := range in.Tags {
				b.hold(wn, t, res)
			}
		}
		if res.Dropped > dropped && b.cfg.KeepDropped {
			if res.DroppedData, err = b.appendDropped(res.DroppedData, elm, len(body), late); err != nil {
				return err
			}
			b.noteDropped(ts, in.Tags, res)
		}
	}
	return nil
}

// window returns the window w of an element of key, made if new.
func (b *Buffer[T]) window(key []byte, w typex.Window, res *Result[T]) (wn *win[T], err error) {
	if b.cfg.Merging {
		return b.mergeInto(key, w, res)
	}
	if wn = b.last; wn == nil || wn.w != w {
		id := winKey{w: w}
		if wn = b.wins[id]; wn == nil {
			wn = b.newWin(id, w)
		}
		b.last = wn
	}
	return wn, nil
}

// noteDropped completes the record of a dropped element at ts, from an
// input with tags, once appended to res.DroppedData.
func (b *Buffer[T]) noteDropped(ts mtime.Time, tags []T, res *Result[T]) {
	res.DroppedEnds = append(res.DroppedEnds, len(res.DroppedData))
	res.DroppedMinTS = min(res.DroppedMinTS, ts)
	for _, t := range tags {
		if !slices.Contains(res.DroppedTags, t) {
			res.DroppedTags = append(res.DroppedTags, t)
		}
	}
}

// expired reports whether a window ending at end is past its allowed
// lateness at watermark wm.
func (b *Buffer[T]) expired(end, wm mtime.Time) bool {
	return expiry(end, b.cfg.AllowedLateness) < wm
}

func expiry(end mtime.Time, lateness int64) mtime.Time {
	if end > mtime.MaxTimestamp-mtime.Time(lateness) {
		return mtime.MaxTimestamp
	}
	return end + mtime.Time(lateness)
}

func (b *Buffer[T]) newWin(id winKey, w typex.Window) *win[T] {
	end := w.MaxTimestamp()
	wn := &win[T]{id: id, w: w, end: end, expiry: expiry(end, b.cfg.AllowedLateness), panes: map[string]*pane{}, fireIdx: -1, gcIdx: -1}
	b.wins[id] = wn
	return wn
}

func (b *Buffer[T]) append(wn *win[T], key, val []byte) error {
	p := wn.panes[string(key)]
	if p == nil {
		p = wn.newPane(slices.Clone(key))
	}
	if err := b.addValue(p, val); err != nil {
		return err
	}
	b.added(wn, p)
	return nil
}

// added notes that pane p of window wn got a value.
func (b *Buffer[T]) added(wn *win[T], p *pane) {
	p.pending = true
	b.touch(wn, p)
	if !wn.queued {
		wn.queued = true
		heap.Push(&b.fire, wn)
		b.pending++
	}
}

func (b *Buffer[T]) hold(wn *win[T], t T, res *Result[T]) {
	if wn.tags == nil {
		wn.tags = map[T]struct{}{}
	}
	if _, ok := wn.tags[t]; !ok {
		wn.tags[t] = struct{}{}
		res.Held = append(res.Held, t)
	}
}

// mergeInto returns the session window of key that w belongs to: w
// itself, or the union of w and every window of the key it overlaps or
// touches, transitively (their panes, state and tags merged into it).
func (b *Buffer[T]) mergeInto(key []byte, w typex.Window, res *Result[T]) (*win[T], error) {
	iw, ok := w.(window.IntervalWindow)
	if !ok {
		return nil, fmt.Errorf("localrunner: merging a %T window", w)
	}
	ks := string(key)
	sess := slices.Clone(b.sessions[ks])
	u := iw
	var merged []*win[T]
	for changed := true; changed; {
		changed = false
		for _, s := range sess {
			sw := s.w.(window.IntervalWindow)
			if slices.Contains(merged, s) || sw.Start > u.End || u.Start > sw.End {
				continue
			}
			merged = append(merged, s)
			u.Start, u.End = min(u.Start, sw.Start), max(u.End, sw.End)
			changed = true
		}
	}
	if len(merged) == 1 && merged[0].w == typex.Window(u) {
		return merged[0], nil // inside an existing session
	}
	id := winKey{key: ks, w: u}
	wn := b.newWin(id, u)
	slices.SortFunc(merged, func(a, c *win[T]) int {
		return int(a.w.(window.IntervalWindow).Start - c.w.(window.IntervalWindow).Start)
	})
	for _, m := range merged {
		for _, p := range m.order {
			q := wn.panes[string(p.key)]
			if q == nil {
				q = wn.newPane(p.key)
				b.touch(wn, q)
			}
			if err := b.absorb(q, p); err != nil {
				return nil, err
			}
			q.pending = q.pending || p.pending
			q.fired = max(q.fired, p.fired)
			q.onTime = q.onTime || p.onTime
			q.nonSpec = max(q.nonSpec, p.nonSpec)
			if q.pending && !wn.queued {
				wn.queued = true
				heap.Push(&b.fire, wn)
				b.pending++
			}
		}
		for t := range m.tags {
			if wn.tags == nil {
				wn.tags = map[T]struct{}{}
			}
			if _, ok := wn.tags[t]; ok {
				res.Released = append(res.Released, t) // held twice, now once
				continue
			}
			wn.tags[t] = struct{}{}
		}
		b.drop(m)
	}
	b.sessions[ks] = append(b.sessions[ks], wn)
	return wn, nil
}

// newPane adds an empty pane for key.
func (wn *win[T]) newPane(key []byte) *pane {
	p := &pane{key: key, ord: uint32(len(wn.order))}
	wn.panes[string(key)] = p
	wn.order = append(wn.order, p)
	return p
}

// drop forgets a window (its tags must have been handed on or moved).
func (b *Buffer[T]) drop(wn *win[T]) {
	delete(b.wins, wn.id)
	wn.gone = true
	if wn.sk != "" {
		b.ckpt.gone = append(b.ckpt.gone, wn)
	}
	if wn.queued {
		heap.Remove(&b.fire, wn.fireIdx)
		wn.queued = false
		b.pending--
	}
	if wn.kept {
		heap.Remove(&b.gc, wn.gcIdx)
		wn.kept = false
	}
	if b.cfg.Merging && wn.id.key != "" {
		sess := slices.DeleteFunc(b.sessions[wn.id.key], func(s *win[T]) bool { return s == wn })
		if len(sess) == 0 {
			delete(b.sessions, wn.id.key)
		} else {
			b.sessions[wn.id.key] = sess
		}
	}
}

// fireUntil emits the pending panes of every window whose end wm has
// passed.
func (b *Buffer[T]) fireUntil(wm mtime.Time, res *Result[T]) error {
	for {
		wn := b.fire.peek()
		if wn == nil || wn.end >= wm {
			break
		}
		heap.Pop(&b.fire)
		wn.queued = false
		b.pending--
		if b.trig != nil {
			if err := b.endOfWindow(wn, wm, res); err != nil {
				return err
			}
			continue
		}
		// The last pane: no more data can come for the window.
		closing := wn.expiry < wm || wm == mtime.MaxTimestamp
		for _, p := range wn.order {
			if !p.pending {
				continue
			}
			if err := b.emit(wn, p, closing, res); err != nil {
				return err
			}
		}
		b.releaseTags(wn, res)
		switch {
		case closing:
			b.drop(wn)
		case !wn.kept:
			wn.kept = true
			heap.Push(&b.gc, wn)
		}
	}
	return nil
}

// releaseTags hands the window's tags to the output and detaches them.
func (b *Buffer[T]) releaseTags(wn *win[T], res *Result[T]) {
	for t := range wn.tags {
		res.Released = append(res.Released, t)
		b.outputTag(t, res)
	}
	wn.tags = nil
}

func (b *Buffer[T]) outputTag(t T, res *Result[T]) {
	if _, ok := b.outTags[t]; !ok {
		b.outTags[t] = struct{}{}
		res.Tags = append(res.Tags, t)
	}
}

// expire forgets the fired windows whose allowed lateness wm has passed
// (all at the end of time). With a trigger, what they still hold fires
// first, in the last pane.
func (b *Buffer[T]) expire(wm mtime.Time, res *Result[T]) error {
	for {
		wn := b.gc.peek()
		if wn == nil || wn.expiry >= wm && wm != mtime.MaxTimestamp {
			return nil
		}
		if b.trig != nil {
			if err := b.closeWindow(wn, res); err != nil {
				return err
			}
		}
		b.drop(wn) // not queued: late data fires at once
	}
}

// emit writes one pane: the window's end as timestamp, the key, the
// values as an iterable.
func (b *Buffer[T]) emit(wn *win[T], p *pane, closing bool, res *Result[T]) error {
	pn := typex.PaneInfo{Index: int64(p.fired), IsFirst: p.fired == 0, IsLast: closing}
	if !p.onTime {
		pn.Timing = typex.PaneOnTime
		p.onTime = true
	} else {
		pn.Timing = typex.PaneLate
		p.nonSpec++
	}
	pn.NonSpeculativeIndex = p.nonSpec
	return b.write(wn, p, pn, res)
}

// write emits p's pane pn.
func (b *Buffer[T]) write(wn *win[T], p *pane, pn typex.PaneInfo, res *Result[T]) error {
	p.fired++
	p.pending = false
	b.touch(wn, p)
	if err := exec.EncodeWindowedValueHeader(b.wenc, []typex.Window{wn.w}, wn.end, pn, &b.out); err != nil {
		return fmt.Errorf("localrunner: group output: encoding a windowed value header: %w", err)
	}
	if err := b.syncAcc(p); err != nil {
		return err
	}
	// Header, key, count and values go straight into the output: the
	// values (most of the bytes) are copied once. A combining buffer's
	// values are one accumulator, written without a count (KV<K, A>).
	res.Data = slices.Grow(res.Data, b.out.Len()+len(p.key)+4+len(p.values))
	res.Data = append(res.Data, b.out.Bytes()...)
	res.Data = append(res.Data, p.key...)
	if b.cmb == nil {
		res.Data = binary.BigEndian.AppendUint32(res.Data, uint32(p.n))
	}
	res.Data = append(res.Data, p.values...)
	res.Ends = append(res.Ends, len(res.Data))
	res.MinTS = min(res.MinTS, wn.end)
	b.out.Reset()
	if !b.cfg.Accumulating {
		b.clearValues(p)
	}
	return nil
}

// winHeap orders windows by end (the fire heap) or by expiry (the gc
// heap). Each window remembers its index in either, so that a window
// merged away can be removed. The fire heap breaks ties (sessions of
// different keys) by start, then key: windows fire in an order that does
// not depend on the heap's history, so a restored buffer emits the same
// bytes.
type winHeap[T comparable] struct {
	ws []*win[T]
	gc bool
}

func (h *winHeap[T]) Len() int { return len(h.ws) }
func (h *winHeap[T]) Less(i, j int) bool {
	a, c := h.ws[i], h.ws[j]
	switch {
	case h.gc:
		return a.expiry < c.expiry
	case a.end != c.end:
		return a.end < c.end
	}
	if s, t := start(a.w), start(c.w); s != t {
		return s < t
	}
	return a.id.key < c.id.key
}

// start is the start of an interval window, zero for the global window.
func start(w typex.Window) mtime.Time {
	if iw, ok := w.(window.IntervalWindow); ok {
		return iw.Start
	}
	return 0
}
func (h *winHeap[T]) Swap(i, j int) {
	h.ws[i], h.ws[j] = h.ws[j], h.ws[i]
	h.setIdx(i)
	h.setIdx(j)
}
func (h *winHeap[T]) Push(x any) {
	h.ws = append(h.ws, x.(*win[T]))
	h.setIdx(len(h.ws) - 1)
}
func (h *winHeap[T]) Pop() any {
	n := len(h.ws) - 1
	x := h.ws[n]
	h.ws[n] = nil
	h.ws = h.ws[:n]
	return x
}

func (h *winHeap[T]) setIdx(i int) {
	if h.gc {
		h.ws[i].gcIdx = i
	} else {
		h.ws[i].fireIdx = i
	}
}

func (h *winHeap[T]) peek() *win[T] {
	if len(h.ws) == 0 {
		return nil
	}
	return h.ws[0]
}

// keyReader finds where a key ends in an encoded KV: without decoding for
// the coders whose length shows in their first bytes, with the SDK's
// decoder otherwise.
type keyReader struct {
	length func([]byte) (int, error)
}

var errShort = errors.New("truncated key")

func newKeyReader(c *coder.Coder) keyReader {
	if f := skipper(c); f != nil {
		return keyReader{length: f}
	}
	dec := exec.MakeElementDecoder(c)
	var r bytes.Reader
	return keyReader{length: func(b []byte) (int, error) {
		r.Reset(b)
		if _, err := dec.Decode(&r); err != nil {
			return 0, err
		}
		return len(b) - r.Len(), nil
	}}
}

// skipper returns a function measuring an encoding of c, or nil when c has
// to be decoded to be measured.
func skipper(c *coder.Coder) func([]byte) (int, error) {
	switch c.Kind {
	case coder.Bytes, coder.String, coder.Custom, coder.LP:
		return func(b []byte) (int, error) {
			n, k := binary.Uvarint(b)
			if k <= 0 || uint64(len(b)-k) < n {
				return 0, errShort
			}
			return k + int(n), nil
		}
	case coder.VarInt:
		return func(b []byte) (int, error) {
			_, k := binary.Uvarint(b)
			if k <= 0 {
				return 0, errShort
			}
			return k, nil
		}
	case coder.Bool:
		return fixed(1)
	case coder.Double:
		return fixed(8)
	case coder.KV:
		k, v := skipper(c.Components[0]), skipper(c.Components[1])
		if k == nil || v == nil {
			return nil
		}
		return func(b []byte) (int, error) {
			n, err := k(b)
			if err != nil {
				return 0, err
			}
			m, err := v(b[n:])
			return n + m, err
		}
	}
	return nil
}

func fixed(n int) func([]byte) (int, error) {
	return func(b []byte) (int, error) {
		if len(b) < n {
			return 0, io.ErrUnexpectedEOF
		}
		return n, nil
	}
}
