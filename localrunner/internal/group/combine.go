package group

import (
	"bytes"
	"fmt"
	"io"
)

// Combiner is a combine's accumulator, for a buffer that combines values as
// they arrive (Config.Combiner) instead of keeping them: each pane holds one
// accumulator, and its output is KV<K, A> (the accumulator, encoded) instead
// of KV<K, Iterable<V>>. Memory then grows with the live panes, not with the
// elements.
//
// Its methods run the pipeline's code (a CombineFn): an error or a panic
// they report fails the grouping.
type Combiner interface {
	// Add returns acc with an input value added, the value as the input
	// KV encodes it. first says the pane has no accumulator yet (acc is
	// nil).
	Add(acc any, first bool, value []byte) (any, error)
	// Merge merges two accumulators.
	Merge(a, b any) (any, error)
	// Encode appends the encoding of an accumulator to w.
	Encode(acc any, w *bytes.Buffer) error
	// Decode reads one encoded accumulator from r.
	Decode(r io.Reader) (any, error)
}

// In a combining buffer a pane's values are its accumulator: acc, the
// decoded one, is what elements are added to (loaded once it holds the
// values' accumulator); values holds its encoding as of the last output or
// checkpoint (or restore), brought up to date by syncAcc when accDirty. n
// is 1 when the pane holds an accumulator, 0 when it holds nothing.

// addValue adds an element's value to p: appended to its values, or, with
// a combiner, added to its accumulator.
func (b *Buffer[T]) addValue(p *pane, val []byte) error {
	if b.cmb == nil {
		p.values = append(p.values, val...)
		p.n++
		return nil
	}
	if err := b.loadAcc(p); err != nil {
		return err
	}
	acc, err := b.cmb.Add(p.acc, p.n == 0, val)
	if err != nil {
		return err
	}
	p.acc, p.loaded, p.accDirty, p.n = acc, true, true, 1
	return nil
}

// absorb moves the values of p (a pane of a session merged away) into q.
func (b *Buffer[T]) absorb(q, p *pane) error {
	if b.cmb == nil {
		q.values = append(q.values, p.values...)
		q.n += p.n
		return nil
	}
	if p.n == 0 {
		return nil
	}
	if err := b.loadAcc(p); err != nil {
		return err
	}
	if q.n == 0 {
		q.acc, q.loaded, q.accDirty, q.n = p.acc, true, true, 1
		return nil
	}
	if err := b.loadAcc(q); err != nil {
		return err
	}
	acc, err := b.cmb.Merge(q.acc, p.acc)
	if err != nil {
		return err
	}
	q.acc, q.accDirty = acc, true
	return nil
}

// clearValues empties p (discarded after a firing, or closed).
func (b *Buffer[T]) clearValues(p *pane) {
	p.values, p.n = nil, 0
	p.acc, p.loaded, p.accDirty = nil, false, false
	if p.saved > 0 {
		p.stale, p.saved = true, 0
	}
}

// loadAcc decodes a pane's accumulator from its values (restored from a
// checkpoint) if that was not done yet.
func (b *Buffer[T]) loadAcc(p *pane) error {
	if p.loaded || p.n == 0 {
		return nil
	}
	b.r.Reset(p.values)
	acc, err := b.cmb.Decode(&b.r)
	if err != nil {
		return fmt.Errorf("localrunner: group: decoding an accumulator: %w", err)
	}
	if b.r.Len() != 0 {
		return fmt.Errorf("localrunner: group: %d bytes after an accumulator", b.r.Len())
	}
	p.acc, p.loaded = acc, true
	return nil
}

// syncAcc brings a pane's values up to date with its accumulator; the
// chunks holding the previous encoding are deleted at the next checkpoint.
func (b *Buffer[T]) syncAcc(p *pane) error {
	if b.cmb == nil || !p.accDirty {
		return nil
	}
	b.enc.Reset()
	if err := b.cmb.Encode(p.acc, &b.enc); err != nil {
		return fmt.Errorf("localrunner: group: encoding an accumulator: %w", err)
	}
	// The previous encoding is not referenced elsewhere: outputs and
	// checkpoint batches copy it.
	p.values = append(p.values[:0], b.enc.Bytes()...)
	p.accDirty = false
	if p.saved > 0 {
		p.stale, p.saved = true, 0
	}
	return nil
}
