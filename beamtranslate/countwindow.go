package beamtranslate

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"

	"github.com/streams-dev/streams/dsl"
)

// A Reduce with a count window (TumblingCountWindow, SlidingCountWindow)
// becomes, after the same keying as a time window's (reduceKeyFn, or the
// chain's DoFn), countWindowFn: a stateful DoFn that keeps, per key, the
// number of messages seen and the accumulators of the windows still
// open, and emits a window when it is full. It needs no WindowInto, no
// combine and no timers: a count window ignores the watermark, and no
// message is late. Being keyed like the combine, it is placed like it on
// the bundled runner: in the partition tasks when the key follows the
// partitioning (the step's scope says so, stepScope), behind the shuffle
// otherwise.
func (t *translator) countWindow(s beam.Scope, n *dsl.Node, keyed beam.PCollection) error {
	out, err := beam.TryParDo(s, &countWindowFn{
		Pipeline: t.id,
		Step:     n.Name(),
		Windows:  state.MakeValueState[[]byte]("windows"),
	}, keyed)
	if err != nil {
		return fmt.Errorf("beamtranslate: reduce %s: %w", n.Name(), err)
	}
	return t.children(n, out[0])
}

// countWindowFn runs a count-windowed Reduce step. Its state per key,
// one value written once per message (countWindows), is all a key's
// windows need: it survives restarts as any user state does on the
// bundled runner. An incomplete window stays in it until the key's next
// messages fill it; nothing flushes it, not even a drain.
type countWindowFn struct {
	Pipeline string
	Step     string

	Windows state.Value[[]byte] // countWindows, encoded

	r *dsl.Reducer
}

// countWindows is the state of one key of a count-windowed Reduce.
type countWindows struct {
	seen int64         // the key's messages since the last window opened
	open []countWindow // oldest first; at most ceil(count/step)
}

// countWindow is an open count window.
type countWindow struct {
	n             int64 // messages in it
	first, newest int64 // the earliest and latest event times, Unix ms
	acc           any
}

func (w countWindows) encode() ([]byte, error) {
	b := binary.AppendVarint(nil, w.seen)
	b = binary.AppendUvarint(b, uint64(len(w.open)))
	for _, o := range w.open {
		b = binary.AppendVarint(b, o.n)
		b = binary.AppendVarint(b, o.first)
		b = binary.AppendVarint(b, o.newest)
		var err error
		if b, err = appendPayload(b, o.acc); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func decodeCountWindows(b []byte) (countWindows, error) {
	d := newDecoder(b)
	w := countWindows{seen: d.Varint()}
	n := d.Uvarint()
	if d.Err == nil && n > uint64(len(d.B)) {
		return w, errShort
	}
	for range n {
		o := countWindow{n: d.Varint(), first: d.Varint(), newest: d.Varint()}
		acc, err := d.payload()
		if err != nil {
			return w, err
		}
		o.acc = acc
		w.open = append(w.open, o)
	}
	return w, d.Err
}

func (fn *countWindowFn) Setup() (err error) {
	fn.r, err = lookupReducer(fn.Pipeline, fn.Step)
	if err == nil && !fn.r.Window().IsCount() {
		err = fmt.Errorf("beamtranslate: step %s has a %v window, not a count window", fn.Step, fn.r.Window())
	}
	return err
}

// ProcessElement adds the message to every open window of its key,
// opening one first when the message starts one, and emits the oldest
// window when it is full: with a step at most the count, it is always
// the first to fill.
func (fn *countWindowFn) ProcessElement(ts beam.EventTime, sp state.Provider, key string, e element, emit func(beam.EventTime, element)) error {
	b, ok, err := fn.Windows.Read(sp)
	if err != nil {
		return err
	}
	var ws countWindows
	if ok {
		if ws, err = decodeCountWindows(b); err != nil {
			return fmt.Errorf("beamtranslate: step %s: count window state of key %s: %w", fn.Step, key, err)
		}
	}
	win := fn.r.Window()
	if win.OpensCountWindow(ws.seen) {
		acc, err := fn.r.NewAccumulator()
		if err != nil {
			return err
		}
		ws.open = append(ws.open, countWindow{first: int64(ts), newest: int64(ts), acc: acc})
	}
	ws.seen = (ws.seen + 1) % int64(win.Step()) // only where the next window opens matters
	for i := range ws.open {
		o := &ws.open[i]
		if o.acc, err = fn.r.Add(o.acc, e.Payload); err != nil {
			return err
		}
		o.n++
		o.first, o.newest = min(o.first, int64(ts)), max(o.newest, int64(ts))
	}
	if len(ws.open) > 0 && ws.open[0].n >= int64(win.Count()) {
		if err := fn.emit(key, ws.open[0], emit); err != nil {
			return err
		}
		ws.open = ws.open[1:]
	}
	enc, err := ws.encode()
	if err != nil {
		return fmt.Errorf("beamtranslate: step %s: %w", fn.Step, err)
	}
	return fn.Windows.Write(sp, enc)
}

// emit sends full window o of key as the step's output message, at its
// newest event time.
func (fn *countWindowFn) emit(key string, o countWindow, emit func(beam.EventTime, element)) error {
	k := reflect.New(fn.r.KeyType())
	if err := json.Unmarshal([]byte(key), k.Interface()); err != nil {
		return fmt.Errorf("beamtranslate: step %s: decode key %s: %w", fn.Step, key, err)
	}
	m, err := fn.r.Output(k.Elem().Interface(), dsl.CountBounds(o.first, o.newest), o.acc)
	if err != nil {
		return err
	}
	emit(mtime.FromTime(m.Timestamp), element{Payload: m.Payload, Key: m.Key, Headers: m.Headers})
	return nil
}
