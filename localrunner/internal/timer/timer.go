// Package timer keeps the user timers of a stateful stage for the local
// runner: event-time and processing-time timers that DoFns set through the
// SDK's timers.Provider.
//
// A bundle writes timers as the SDK encodes them on the data plane (the
// model's timer coder: key, tag, windows, clear flag, fire time, hold time,
// pane), one Write per timer, per transform and timer family. Set applies
// one such write: a set replaces the timer of the same transform, family,
// key, window and tag (there is at most one), a clear removes it. The
// timer's bytes are kept as written and handed back unchanged when it
// fires, the way the SDK harness expects them.
//
// An event-time timer fires once the stage's input watermark has reached
// its fire time (fire <= watermark, as in prism); a processing-time timer
// once the wall clock has. Firing removes a timer: a DoFn that wants it
// again sets it again. Until it has fired, a timer holds the stage's
// output watermark at its hold time (the timer's output timestamp; a
// processing-time timer set WithNoOutputTimestamp holds nothing) and an
// event-time timer also at its fire time, so that the output watermark
// never passes a timer still to fire.
//
// A Store is not safe for concurrent use: the engine's owner goroutine
// applies a bundle's writes after the bundle returned, and hands fired
// timers to the next bundle.
package timer

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/streams-dev/streams/state"
)

// Family describes one timer family of one transform.
type Family struct {
	Transform, Family string
	// Name is the transform's unique name, under which checkpoints save
	// its timers (IDs may change with the pipeline); Transform when empty.
	Name string
	// Processing is set for the processing-time domain; otherwise event
	// time.
	Processing bool
	// Coder is the family's timer coder (key coder and window coder).
	Coder *coder.Coder
}

// Fired is a run of fired timers of one transform and family, encoded
// back to back as the SDK wrote them.
type Fired struct {
	Transform, Family string
	Data              []byte
	// Hold is the smallest hold time of the timers in Data (for event-time
	// timers, the smaller of hold and fire time).
	Hold mtime.Time
	// N is the number of timers.
	N int
}

type id struct {
	transform, family string
	key, tag          string
	window            typex.Window
}

type entry struct {
	id         id
	name       []byte // key, tag and window as encoded: the identity in Pebble
	processing bool
	fire, hold mtime.Time
	data       []byte
	idx        [2]int // positions in the fire heap of its domain and the hold heap
}

type family struct {
	Family
	keyLen func([]byte) (int, error)
	wdec   exec.WindowDecoder
}

// Store is the set of live timers of one stage.
type Store struct {
	families map[[2]string]*family
	byName   map[[2]string]*family // by unique name and family
	timers   map[id]*entry
	event    entryHeap // by fire time
	proc     entryHeap // by fire time
	holds    entryHeap // by hold time
	r        bytes.Reader
	// tracking is set once the store is checkpointed or restored: dirty
	// then names every timer set or removed since the last checkpoint.
	tracking bool
	dirty    map[id][]byte // the timer's name
}

// New returns an empty store for the given families. keyLen measures an
// encoded key of a family's key coder (see group.KeyLength).
func New(families []Family, keyLen func(*coder.Coder) func([]byte) (int, error)) (*Store, error) {
	s := &Store{families: map[[2]string]*family{}, byName: map[[2]string]*family{}, timers: map[id]*entry{}, holds: entryHeap{slot: 1, byHold: true}}
	for _, f := range families {
		c := f.Coder
		if c == nil || c.Kind != coder.Timer || len(c.Components) != 1 || c.Window == nil {
			return nil, fmt.Errorf("localrunner: timer family %q of %s: coder %v is not a timer coder", f.Family, f.Transform, c)
		}
		if f.Name == "" {
			f.Name = f.Transform
		}
		fam := &family{Family: f, keyLen: keyLen(c.Components[0]), wdec: exec.MakeWindowDecoder(c.Window)}
		s.families[[2]string{f.Transform, f.Family}] = fam
		s.byName[[2]string{f.Name, f.Family}] = fam
	}
	return s, nil
}

// Len is the number of live timers.
func (s *Store) Len() int { return len(s.timers) }

// Set applies timers written by a bundle for one transform and family:
// whole encoded timers, back to back.
func (s *Store) Set(transform, fam string, data []byte) error {
	f := s.families[[2]string{transform, fam}]
	if f == nil {
		return fmt.Errorf("localrunner: timer written for unknown family %q of %s", fam, transform)
	}
	for len(data) > 0 {
		n, err := s.set(f, data)
		if err != nil {
			return fmt.Errorf("localrunner: timer family %q of %s: %w", fam, transform, err)
		}
		data = data[n:]
	}
	return nil
}

// set applies the timer at the front of data and returns its length.
func (s *Store) set(f *family, data []byte) (int, error) {
	kn, err := f.keyLen(data)
	if err != nil {
		return 0, fmt.Errorf("decoding a timer key: %w", err)
	}
	s.r.Reset(data[kn:])
	tag, err := coder.DecodeStringUTF8(&s.r)
	if err != nil {
		return 0, fmt.Errorf("decoding a timer tag: %w", err)
	}
	ws, err := f.wdec.Decode(&s.r)
	if err != nil {
		return 0, fmt.Errorf("decoding timer windows: %w", err)
	}
	nameLen := len(data) - s.r.Len()
	clear, err := coder.DecodeBool(&s.r)
	if err != nil {
		return 0, fmt.Errorf("decoding a timer's clear flag: %w", err)
	}
	var fire, hold mtime.Time
	if !clear {
		if fire, err = coder.DecodeEventTime(&s.r); err != nil {
			return 0, fmt.Errorf("decoding a timer's fire time: %w", err)
		}
		if hold, err = coder.DecodeEventTime(&s.r); err != nil {
			return 0, fmt.Errorf("decoding a timer's hold time: %w", err)
		}
		if _, err = coder.DecodePane(&s.r); err != nil {
			return 0, fmt.Errorf("decoding a timer's pane: %w", err)
		}
	}
	n := len(data) - s.r.Len()
	if len(ws) != 1 {
		// The SDK writes one window per timer (userTimerAdapter.FlushAndReset).
		return 0, fmt.Errorf("a timer with %d windows", len(ws))
	}
	k := id{transform: f.Transform, family: f.Family.Family, key: string(data[:kn]), tag: tag, window: ws[0]}
	if old := s.timers[k]; old != nil {
		s.remove(old)
	}
	if s.tracking {
		s.dirty[k] = bytes.Clone(data[:nameLen])
	}
	if !clear {
		if !f.Processing {
			// A due event-time timer holds the watermark at its fire time
			// until it has fired, even without an output timestamp: what
			// it emits must not be late downstream (as in prism).
			hold = min(hold, fire)
		}
		d := bytes.Clone(data[:n])
		s.add(&entry{id: k, name: d[:nameLen], processing: f.Processing, fire: fire, hold: hold, data: d})
	}
	return n, nil
}

func (s *Store) add(e *entry) {
	s.timers[e.id] = e
	heap.Push(s.domain(e), e)
	heap.Push(&s.holds, e)
}

func (s *Store) remove(e *entry) {
	delete(s.timers, e.id)
	if s.tracking {
		s.dirty[e.id] = e.name
	}
	heap.Remove(s.domain(e), e.idx[0])
	heap.Remove(&s.holds, e.idx[1])
}

func (s *Store) domain(e *entry) *entryHeap {
	if e.processing {
		return &s.proc
	}
	return &s.event
}

// Hold is the smallest hold time of the live timers (mtime.MaxTimestamp
// when none): the stage's output watermark stays at or below it.
func (s *Store) Hold() mtime.Time {
	if len(s.holds.es) == 0 {
		return mtime.MaxTimestamp
	}
	return s.holds.es[0].hold
}

// NextEvent is the earliest fire time of the event-time timers
// (mtime.MaxTimestamp when none).
func (s *Store) NextEvent() mtime.Time {
	if len(s.event.es) == 0 {
		return mtime.MaxTimestamp
	}
	return s.event.es[0].fire
}

// NextProcessing is the earliest fire time of the processing-time timers;
// ok is false when there are none.
func (s *Store) NextProcessing() (t time.Time, ok bool) {
	if len(s.proc.es) == 0 {
		return time.Time{}, false
	}
	return s.proc.es[0].fire.ToTime(), true
}

// Due reports whether a timer fires at input watermark wm and wall-clock
// time now.
func (s *Store) Due(wm mtime.Time, now time.Time) bool {
	if len(s.event.es) > 0 && s.event.es[0].fire <= wm {
		return true
	}
	next, ok := s.NextProcessing()
	return ok && !next.After(now)
}

// Fire removes the timers due at input watermark wm and wall-clock time
// now, and returns them by transform and family, each run in fire-time
// order (processing-time timers first, as the SDK orders them).
func (s *Store) Fire(wm mtime.Time, now time.Time) []Fired {
	var out []Fired
	at := map[[2]string]int{}
	take := func(e *entry) {
		s.remove(e)
		k := [2]string{e.id.transform, e.id.family}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, Fired{Transform: e.id.transform, Family: e.id.family, Hold: mtime.MaxTimestamp})
		}
		out[i].Data = append(out[i].Data, e.data...)
		out[i].Hold = min(out[i].Hold, e.hold)
		out[i].N++
	}
	nowT := mtime.FromTime(now)
	for len(s.proc.es) > 0 && s.proc.es[0].fire <= nowT {
		take(s.proc.es[0])
	}
	for len(s.event.es) > 0 && s.event.es[0].fire <= wm {
		take(s.event.es[0])
	}
	return out
}

// entryHeap is a min-heap of timers by fire time (or by hold time), each
// entry knowing its position (slot 0 of idx for fire heaps, 1 for the hold
// heap) so it can be removed.
type entryHeap struct {
	es     []*entry
	slot   int
	byHold bool
}

func (h *entryHeap) Len() int { return len(h.es) }
func (h *entryHeap) Less(i, j int) bool {
	a, b := h.es[i], h.es[j]
	if h.byHold {
		return a.hold < b.hold
	}
	return a.fire < b.fire
}
func (h *entryHeap) Swap(i, j int) {
	h.es[i], h.es[j] = h.es[j], h.es[i]
	h.es[i].idx[h.slot] = i
	h.es[j].idx[h.slot] = j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.idx[h.slot] = len(h.es)
	h.es = append(h.es, e)
}
func (h *entryHeap) Pop() any {
	n := len(h.es) - 1
	e := h.es[n]
	h.es[n] = nil
	h.es = h.es[:n]
	e.idx[h.slot] = -1
	return e
}

// Checkpoint writes under prefix the timers set, and deletes those
// removed (fired or cleared), since the previous Checkpoint or Restore;
// the first Checkpoint of a store not restored replaces whatever the
// prefix held with every live timer. A timer is stored under its
// transform, family and name (encoded key, tag and window), its value the
// timer as the SDK wrote it.
func (s *Store) Checkpoint(w *state.Batch, prefix state.Key) error {
	if !s.tracking {
		w.DeletePrefix(prefix)
		for _, e := range s.timers {
			w.Set(s.timerKey(prefix, e.id, e.name), e.data)
		}
		s.tracking, s.dirty = true, map[id][]byte{}
		return nil
	}
	for k, name := range s.dirty {
		if e := s.timers[k]; e != nil {
			w.Set(s.timerKey(prefix, k, name), e.data)
		} else {
			w.Delete(s.timerKey(prefix, k, name))
		}
	}
	clear(s.dirty)
	return nil
}

// Restore loads the timers Checkpoint wrote under prefix into an empty
// store with the same families.
func (s *Store) Restore(st *state.Store, prefix state.Key) error {
	if len(s.timers) > 0 || s.tracking {
		return errors.New("localrunner: restoring timers into a store in use")
	}
	err := st.Scan(prefix, func(k, v []byte) error {
		r := state.Read(k[len(prefix):])
		transform, fam := r.Text(), r.Text()
		if err := r.Err(); err != nil {
			return fmt.Errorf("localrunner: a saved timer key: %w", err)
		}
		f := s.byName[[2]string{transform, fam}]
		if f == nil {
			return fmt.Errorf("localrunner: a saved timer of family %q of %s, which the pipeline no longer has", fam, transform)
		}
		if _, err := s.set(f, v); err != nil {
			return fmt.Errorf("localrunner: a saved timer of family %q of %s: %w", fam, transform, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.tracking, s.dirty = true, map[id][]byte{}
	return nil
}

// timerKey is where a timer is saved: under its transform's unique name,
// its family and its name.
func (s *Store) timerKey(prefix state.Key, k id, name []byte) []byte {
	return slices.Clone(prefix).Text(s.families[[2]string{k.transform, k.family}].Name).Text(k.family).Bytes(name)
}
