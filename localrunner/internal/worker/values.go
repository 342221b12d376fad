package worker

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"

	"github.com/streams-dev/streams/internal/contract"
	"github.com/streams-dev/streams/localrunner/internal/group"
)

// The outputs of an encoded stage whose elements go to a combining
// GroupByKey as Go values (plan.EncodedOutput.Values): the DoFn hands
// each KV's encoded key and its value (contract.ValueDoFn), the plan
// gives it its windows, and the bundle's Output carries it in Values,
// which the GroupByKey's CombineFn adds to an accumulator as they are.
// What the DoFn still encodes goes to Data as any output's.

// valueOut is an encoded output's value state.
type valueOut struct {
	on     bool
	encode func(dst []byte, v any) ([]byte, error)
	// keys holds the bundle's keys (Value.Key aliases it): a new buffer
	// per bundle, never written over, since the values outlive it.
	keys []byte
}

// askValues asks the DoFn for the outputs the plan marks as values.
func (p *encodedPlan) askValues() {
	vf, ok := p.fn.(contract.ValueDoFn)
	if !ok {
		return
	}
	for i, o := range p.stage.Encoded.Outputs {
		if !o.Values || o.PCollection == "" {
			continue
		}
		emit := func(ts typex.EventTime, key []byte, v any) { p.emitValue(i, ts, key, v) }
		if vf.EmitValues(i, emit) {
			p.outs[i].vals.on = true
			p.outs[i].vals.encode = func(dst []byte, v any) ([]byte, error) { return vf.AppendValue(i, dst, v) }
		}
	}
}

// keyArena is the size of a bundle's first buffer of keys.
const keyArena = 4 << 10

// emitValue adds a value to output i.
func (p *encodedPlan) emitValue(i int, ts typex.EventTime, key []byte, v any) {
	o := &p.outs[i]
	out := p.output(o)
	vo := &o.vals
	if cap(vo.keys)-len(vo.keys) < len(key) {
		vo.keys = make([]byte, 0, max(keyArena, 2*cap(vo.keys), len(key)))
	}
	n := len(vo.keys)
	vo.keys = append(vo.keys, key...)
	out.Values = append(out.Values, group.Value{TS: ts, Windows: p.valueWindows(o, ts), Key: vo.keys[n:len(vo.keys):len(vo.keys)], V: v})
	out.Encode = vo.encode
	out.MinTS, out.MaxTS = min(out.MinTS, ts), max(out.MaxTS, ts)
}

// valueWindows returns the windows of a value at ts on output o: those
// of o's window function (a Value shares its slice with the values before
// it in the same windows), or the input element's.
func (p *encodedPlan) valueWindows(o *encodedOut, ts typex.EventTime) []typex.Window {
	if o.wfn == nil {
		return p.inWs
	}
	ws, _ := o.assign(ts)
	return ws
}
