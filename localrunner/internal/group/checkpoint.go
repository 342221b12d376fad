package group

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"

	"github.com/streams-dev/streams/state"
)

// checkpointState is what a buffer keeps for incremental checkpoints, from
// its first Checkpoint or Restore on: a buffer never checkpointed keeps
// nothing.
type checkpointState[T comparable] struct {
	on    bool
	wm    mtime.Time     // the watermark last written
	dirty []dirtyPane[T] // panes changed since the last checkpoint
	gone  []*win[T]      // checkpointed windows dropped since

	key  []byte // scratch
	val  []byte
	wbuf bytes.Buffer
}

type dirtyPane[T comparable] struct {
	w *win[T]
	p *pane
}

// touch notes that p, a pane of wn, changed since the last checkpoint.
func (b *Buffer[T]) touch(wn *win[T], p *pane) {
	if b.ckpt.on && !p.dirty {
		p.dirty = true
		b.ckpt.dirty = append(b.ckpt.dirty, dirtyPane[T]{wn, p})
	}
}

// A pane record is a byte of these flags, uvarints (panes fired,
// non-speculative index, values, first and next chunk), with a trigger
// its state (a flag byte and a varint per node), then the key.
const (
	flagPending = 1 << iota
	flagOnTime
	flagClosed // the pane's trigger finished
	flagArmed  // the pane waits for a processing time
	flagKept   // the watermark passed the end of the pane's window
)

// Checkpoint writes under prefix everything that changed in the buffer since
// the previous Checkpoint (or Restore, or New): new values, window/pane
// bookkeeping (pane indexes, fired/ON_TIME flags, non-speculative index,
// pending flags, trigger state), merged-away and forgotten windows deleted. Tags are not
// written (a durable engine does not count them).
//
// The first Checkpoint of a buffer that was not restored replaces
// whatever prefix held with the whole buffer; later ones cost what changed.
// Every call must use the same prefix, which holds nothing else.
func (b *Buffer[T]) Checkpoint(w *state.Batch, prefix state.Key) error {
	c := &b.ckpt
	prefix = slices.Clip(prefix) // keys built from it must not share its array
	first := !c.on
	if first {
		c.on = true
		w.DeletePrefix(prefix)
		for _, wn := range b.wins {
			for _, p := range wn.order {
				b.touch(wn, p)
			}
		}
	}
	// Windows past their allowed lateness sort first: one range. Those
	// merged away, or closed at the end of time, go one by one.
	bound := forgottenBefore(b.wm, b.cfg.AllowedLateness)
	ranged := false
	for _, wn := range c.gone {
		if int64(wn.end) < bound {
			ranged = true
			continue
		}
		c.key = append(append(c.key[:0], prefix...), wn.sk...)
		w.DeletePrefix(c.key)
	}
	if ranged {
		w.DeleteRange(prefix.Int64(math.MinInt64), prefix.Int64(bound))
	}
	clear(c.gone)
	c.gone = c.gone[:0]
	for _, d := range c.dirty {
		d.p.dirty = false
		if d.w.gone {
			continue
		}
		if err := b.savePane(w, prefix, d.w, d.p); err != nil {
			return err
		}
	}
	clear(c.dirty)
	c.dirty = c.dirty[:0]
	if first || b.wm != c.wm {
		w.Set(prefix, binary.AppendVarint(nil, int64(b.wm)))
		c.wm = b.wm
	}
	return nil
}

// forgottenBefore returns the window end before which every window is
// forgotten at watermark wm: its end plus the allowed lateness is before wm.
func forgottenBefore(wm mtime.Time, lateness int64) int64 {
	if int64(wm) < math.MinInt64+lateness {
		return math.MinInt64
	}
	return int64(wm) - lateness
}

// savePane writes a pane's new values as a chunk, deletes the chunks of
// values it discarded, and rewrites its record.
func (b *Buffer[T]) savePane(w *state.Batch, prefix state.Key, wn *win[T], p *pane) error {
	c := &b.ckpt
	if wn.sk == "" {
		c.wbuf.Reset()
		if err := b.wenc.EncodeSingle(wn.w, &c.wbuf); err != nil {
			return fmt.Errorf("localrunner: group checkpoint: encoding a window: %w", err)
		}
		wn.sk = string(state.Key(nil).Int64(int64(wn.end)).Bytes(c.wbuf.Bytes()).Text(wn.id.key))
	}
	if err := b.syncAcc(p); err != nil {
		return err
	}
	pk := state.Key(append(append(c.key[:0], prefix...), wn.sk...)).Uint64(uint64(p.ord))
	c.key = pk
	if p.stale {
		for s := p.first; s < p.next; s++ {
			w.Delete(pk.Uint64(uint64(s)))
		}
		p.first, p.stale = p.next, false
	}
	if len(p.values) > p.saved {
		w.Set(pk.Uint64(uint64(p.next)), p.values[p.saved:])
		p.next++
		p.saved = len(p.values)
	}
	var flags byte
	if p.pending {
		flags |= flagPending
	}
	if p.onTime {
		flags |= flagOnTime
	}
	if p.closed {
		flags |= flagClosed
	}
	if p.armed {
		flags |= flagArmed
	}
	if b.trig != nil && wn.kept {
		flags |= flagKept
	}
	v := append(c.val[:0], flags)
	v = binary.AppendUvarint(v, uint64(p.fired))
	v = binary.AppendUvarint(v, uint64(p.nonSpec))
	v = binary.AppendUvarint(v, uint64(p.n))
	v = binary.AppendUvarint(v, uint64(p.first))
	v = binary.AppendUvarint(v, uint64(p.next))
	if b.trig != nil {
		v = appendState(v, p.ts)
	}
	v = append(v, p.key...)
	c.val = v
	w.Set(pk, v)
	return nil
}

var errCorrupt = errors.New("localrunner: group restore: malformed checkpoint")

// Restore loads what Checkpoint wrote under prefix into a new, empty buffer
// (same Config). A restored buffer given the same further inputs and
// watermarks produces byte-identical results (Data, Ends, MinTS, Hold, Next,
// Pending, Dropped) to the buffer that was checkpointed.
func (b *Buffer[T]) Restore(s *state.Store, prefix state.Key) error {
	if b.ckpt.on || len(b.wins) > 0 || b.wm != mtime.MinTimestamp {
		return errors.New("localrunner: group restore into a buffer in use")
	}
	var (
		wn *win[T]
		p  *pane
	)
	err := s.Scan(prefix, func(k, v []byte) error {
		rest := k[len(prefix):]
		if len(rest) == 0 {
			wm, n := binary.Varint(v)
			if n != len(v) {
				return fmt.Errorf("%w: watermark %x", errCorrupt, v)
			}
			b.wm = mtime.Time(wm)
			return nil
		}
		// A pane record ends with the pane's index, a chunk with its
		// sequence number after that.
		r := state.Read(rest)
		end, enc, key, ord := r.Int64(), r.Bytes(), r.Text(), r.Uint64()
		chunk := r.Err() == nil && !r.Done()
		if chunk {
			r.Uint64()
		}
		if !r.Done() {
			return fmt.Errorf("%w: key %x", errCorrupt, k)
		}
		sk := rest[:len(rest)-8]
		if chunk {
			sk = rest[:len(rest)-16]
		}
		if wn == nil || string(sk) != wn.sk {
			var err error
			if wn, err = b.restoreWin(sk, end, enc, key); err != nil {
				return err
			}
			p = nil
		}
		if chunk {
			if p == nil || uint64(p.ord) != ord {
				return fmt.Errorf("%w: values without a pane at %x", errCorrupt, k)
			}
			p.values = append(p.values, v...)
			p.saved = len(p.values)
			return nil
		}
		if ord != uint64(len(wn.order)) {
			return fmt.Errorf("%w: pane %d of a window with %d", errCorrupt, ord, len(wn.order))
		}
		var err error
		var kept bool
		p, kept, err = b.restorePane(v)
		if err != nil {
			return fmt.Errorf("%w at %x: %v", errCorrupt, k, err)
		}
		p.ord = uint32(ord)
		wn.kept = wn.kept || kept
		wn.panes[string(p.key)] = p
		wn.order = append(wn.order, p)
		return nil
	})
	if err != nil {
		return err
	}
	// Every window is waiting to fire, or kept for late data (it fired).
	// With a trigger, a window waits until the watermark passes its end.
	for _, wn := range b.wins {
		if b.trig != nil {
			for _, p := range wn.order {
				if p.armed {
					heap.Push(&b.timers, timer[T]{at: p.deadline, w: wn, p: p})
				}
			}
		}
		if b.trig != nil && !wn.kept || b.trig == nil && slices.ContainsFunc(wn.order, func(p *pane) bool { return p.pending }) {
			wn.queued = true
			heap.Push(&b.fire, wn)
			b.pending++
		} else {
			wn.kept = true
			heap.Push(&b.gc, wn)
		}
	}
	b.ckpt.on, b.ckpt.wm = true, b.wm
	return nil
}

// restoreWin adds the window stored under sk.
func (b *Buffer[T]) restoreWin(sk []byte, end int64, enc []byte, key string) (*win[T], error) {
	w, err := b.wdec.DecodeSingle(bytes.NewReader(enc))
	if err != nil {
		return nil, fmt.Errorf("%w: window %x: %v", errCorrupt, enc, err)
	}
	if int64(w.MaxTimestamp()) != end {
		return nil, fmt.Errorf("%w: window %v under end %d", errCorrupt, w, end)
	}
	id := winKey{w: w}
	if b.cfg.Merging {
		id.key = key
	}
	if b.wins[id] != nil {
		return nil, fmt.Errorf("%w: window %v twice", errCorrupt, w)
	}
	wn := b.newWin(id, w)
	wn.sk = string(sk)
	if b.cfg.Merging {
		b.sessions[key] = append(b.sessions[key], wn)
	}
	return wn, nil
}

// restorePane decodes a pane record; kept is its flagKept.
func (b *Buffer[T]) restorePane(v []byte) (p *pane, kept bool, err error) {
	if len(v) == 0 {
		return nil, false, errors.New("empty pane record")
	}
	fl := v[0]
	p = &pane{pending: fl&flagPending != 0, onTime: fl&flagOnTime != 0, closed: fl&flagClosed != 0, armed: fl&flagArmed != 0}
	v = v[1:]
	var f [5]uint64
	for i := range f {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			return nil, false, errors.New("truncated pane record")
		}
		f[i], v = x, v[n:]
	}
	p.fired, p.nonSpec, p.n = int(f[0]), int64(f[1]), int(f[2])
	p.first, p.next = uint32(f[3]), uint32(f[4])
	if b.trig != nil {
		p.ts = make([]tstate, len(b.trig.nodes))
		if v, err = readState(v, p.ts); err != nil {
			return nil, false, err
		}
		if !p.closed {
			p.deadline, _ = b.trig.deadline(p.ts)
		}
	}
	p.key = bytes.Clone(v)
	return p, fl&flagKept != 0, nil
}
