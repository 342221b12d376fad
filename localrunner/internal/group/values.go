package group

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
)

// Value is a KV element handed to a combining buffer as a Go value
// instead of encoded (contract.ValueDoFn): the DoFn that made it does not
// encode it, and the CombineFn adds it to its accumulator as it is
// (ValueCombiner). Only what must be written is encoded: a dropped
// element (Input.Encode), or one queued when a checkpoint saves its queue.
type Value struct {
	// TS is the element's event time and Windows its windows.
	TS      mtime.Time
	Windows []typex.Window
	// Key is the KV's key as the key coder encodes it.
	Key []byte
	// V is the KV's value.
	V any
}

// ValueCombiner is a Combiner that also adds values (Input.Values).
type ValueCombiner interface {
	Combiner
	// AddValue returns acc with value added; first says the pane has no
	// accumulator yet (acc is nil).
	AddValue(acc any, first bool, value any) (any, error)
}

var errValues = errors.New("localrunner: group: values for a buffer that cannot add them")

// addValues buffers in's values as add buffers its encoded elements.
// Only a combining buffer with the default trigger takes them.
func (b *Buffer[T]) addValues(in *Input[T], arrival mtime.Time, res *Result[T]) error {
	if len(in.Values) == 0 {
		return nil
	}
	vc, ok := b.cmb.(ValueCombiner)
	if !ok || b.trig != nil {
		return errValues
	}
	for i := range in.Values {
		v := &in.Values[i]
		res.Elements++
		dropped := res.Dropped
		var late typex.Window // the first window that dropped v
		for _, w := range v.Windows {
			if b.expired(w.MaxTimestamp(), arrival) {
				res.Dropped++
				if late == nil {
					late = w
				}
				continue
			}
			wn, err := b.window(v.Key, w, res)
			if err != nil {
				return err
			}
			if err := b.appendValue(wn, vc, v); err != nil {
				return err
			}
			for _, t := range in.Tags {
				b.hold(wn, t, res)
			}
		}
		if res.Dropped > dropped && b.cfg.KeepDropped {
			if err := b.appendDroppedValue(in, v, late, res); err != nil {
				return err
			}
			b.noteDropped(v.TS, in.Tags, res)
		}
	}
	return nil
}

// appendValue adds v's value to its key's pane of window wn.
func (b *Buffer[T]) appendValue(wn *win[T], vc ValueCombiner, v *Value) error {
	p := wn.panes[string(v.Key)]
	if p == nil {
		p = wn.newPane(slices.Clone(v.Key))
	}
	if err := b.loadAcc(p); err != nil {
		return err
	}
	acc, err := vc.AddValue(p.acc, p.n == 0, v.V)
	if err != nil {
		return err
	}
	p.acc, p.loaded, p.accDirty, p.n = acc, true, true, 1
	b.added(wn, p)
	return nil
}

// appendDroppedValue appends v, dropped, to res.DroppedData as a windowed
// value in window late, the first that dropped it (as appendDropped does
// for an encoded element).
func (b *Buffer[T]) appendDroppedValue(in *Input[T], v *Value, late typex.Window, res *Result[T]) error {
	out, err := AppendValue(res.DroppedData, b.wenc, in.Encode, v, []typex.Window{late})
	if err != nil {
		return err
	}
	res.DroppedData = out
	return nil
}

// AppendValue appends v to dst as the encoded windowed KV it stands for,
// in windows ws (v's own when nil), with windows encoded by wenc and the
// value by enc.
func AppendValue(dst []byte, wenc exec.WindowEncoder, enc func([]byte, any) ([]byte, error), v *Value, ws []typex.Window) ([]byte, error) {
	if enc == nil {
		return dst, errors.New("localrunner: group: a value without its encoder")
	}
	if ws == nil {
		ws = v.Windows
	}
	n := len(dst)
	w := bytes.NewBuffer(dst)
	if err := exec.EncodeWindowedValueHeader(wenc, ws, v.TS, typex.NoFiringPane(), w); err != nil {
		return dst[:n], fmt.Errorf("localrunner: group: encoding the header of a value: %w", err)
	}
	out, err := enc(append(w.Bytes(), v.Key...), v.V)
	if err != nil {
		return dst[:n], fmt.Errorf("localrunner: group: encoding a value: %w", err)
	}
	return out, nil
}
