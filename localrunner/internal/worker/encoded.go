package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"

	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// EncodedDoFn is implemented by DoFns that can process elements in their
// encoded form (plan.EncodedDoFn).
type EncodedDoFn = plan.EncodedDoFn

// encodedPlan runs the DoFn of a plan.Encoded stage on encoded elements.
type encodedPlan struct {
	stage *plan.Stage
	name  string // the ParDo's unique name
	dofn  *graph.DoFn
	fn    EncodedDoFn
	inWin exec.WindowDecoder
	outs  []encodedOut

	// The bundle being processed: its outputs, the input element's
	// windows and pane as encoded (and the pane alone), and the first
	// failure of an emit.
	dm      *dataManager
	winPane []byte
	pane    []byte
	inWs    []typex.Window
	err     error
	r       bytes.Reader
	emitFn  func(int, typex.EventTime, []byte)
}

type encodedOut struct {
	pcol string     // "" discards
	wfn  *window.Fn // nil keeps the input's windows
	wenc exec.WindowEncoder
	out  *Output // of the current bundle

	// The last windows assigned (assign), for fixed windows the one
	// window [start, end), and their encoding once made (nil until then).
	last       []typex.Window
	start, end typex.EventTime
	lastEnc    []byte

	// An output whose elements the DoFn hands over as values (values.go).
	vals valueOut
}

// newEncodedPlan returns the plan running s's DoFn on encoded elements, or
// nil when its DoFn does not offer that (EncodedDoFn) for these coders.
func newEncodedPlan(s *plan.Stage) (*encodedPlan, error) {
	e := s.Encoded
	outs := make([]*coder.Coder, len(e.Outputs))
	for i, o := range e.Outputs {
		outs[i] = coder.SkipW(o.Coder)
	}
	dofn, fn := plan.EncodedDoFnOf(s.Descriptor.GetTransforms()[e.ParDo], coder.SkipW(e.Input), outs)
	if fn == nil {
		return nil, nil
	}
	p := &encodedPlan{stage: s, dofn: dofn, fn: fn, inWin: exec.MakeWindowDecoder(e.Input.Window)}
	for i, tid := range s.Transforms {
		if tid == e.ParDo {
			p.name = s.Names[i]
		}
	}
	for _, o := range e.Outputs {
		eo := encodedOut{pcol: o.PCollection, wfn: o.Window}
		if o.Window != nil {
			eo.wenc = exec.MakeWindowEncoder(o.Sink.Window)
		}
		p.outs = append(p.outs, eo)
	}
	p.emitFn = p.emit
	if f := dofn.SetupFn(); f != nil {
		if err := p.guard(func() error { _, err := newInvoker(f).call(context.Background()); return err }); err != nil {
			return nil, err
		}
	}
	p.askValues()
	return p, nil
}

// Finalize implements Plan: an encoded plan registers no callbacks.
func (p *encodedPlan) Finalize() error { return nil }

// Down runs the DoFn's Teardown.
func (p *encodedPlan) Down(context.Context) error {
	f := p.dofn.TeardownFn()
	if f == nil {
		return nil
	}
	return p.guard(func() error { _, err := newInvoker(f).call(context.Background()); return err })
}

// process runs one bundle.
func (p *encodedPlan) process(b *Bundle, dm *dataManager) error {
	p.dm, p.err = dm, nil
	for i := range p.outs {
		p.outs[i].out = nil
		p.outs[i].vals.keys = nil
	}
	defer func() { p.dm = nil }()
	return p.guard(func() error {
		for _, chunk := range b.Input {
			for len(chunk) > 0 {
				n, err := p.element(chunk)
				if err != nil {
					return err
				}
				chunk = chunk[n:]
			}
		}
		if len(b.Timers) > 0 {
			return errors.New("localrunner: timers delivered to a stage without stateful DoFns")
		}
		return p.fn.FinishEncodedBundle()
	})
}

// element processes the element at the front of chunk and returns its
// length.
func (p *encodedPlan) element(chunk []byte) (int, error) {
	// The windowed value: event time (8 bytes), windows, pane, element.
	if len(chunk) < 8 {
		return 0, errors.New("localrunner: truncated windowed value")
	}
	ts := group.EventTime(chunk)
	p.r.Reset(chunk[8:])
	ws, err := p.inWin.Decode(&p.r)
	if err != nil {
		return 0, fmt.Errorf("localrunner: decoding the windows of an element: %w", err)
	}
	p.inWs = ws
	winEnd := len(chunk) - p.r.Len()
	if _, err := coder.DecodePane(&p.r); err != nil {
		return 0, fmt.Errorf("localrunner: decoding the pane of an element: %w", err)
	}
	at := len(chunk) - p.r.Len()
	p.winPane, p.pane = chunk[8:at], chunk[winEnd:at]
	n, err := p.fn.ProcessEncoded(ts, chunk[at:], p.emitFn)
	if err == nil {
		err = p.err
	}
	if err != nil {
		return 0, err
	}
	if n <= 0 || n > len(chunk)-at {
		return 0, fmt.Errorf("localrunner: %s read %d bytes of an element of at most %d", p.dofn.Name(), n, len(chunk)-at)
	}
	return at + n, nil
}

// emit writes one output element as a windowed value.
func (p *encodedPlan) emit(i int, ts typex.EventTime, value []byte) {
	if i < 0 || i >= len(p.outs) {
		if p.err == nil {
			p.err = fmt.Errorf("localrunner: %s emitted to output %d of %d", p.dofn.Name(), i, len(p.outs))
		}
		return
	}
	o := &p.outs[i]
	if o.pcol == "" {
		return
	}
	out := p.output(o)
	out.Data = group.AppendEventTime(out.Data, ts)
	if o.wfn == nil {
		out.Data = append(out.Data, p.winPane...)
	} else {
		enc, err := o.windows(ts)
		if err != nil {
			if p.err == nil {
				p.err = fmt.Errorf("localrunner: encoding the windows of an output of %s: %w", p.dofn.Name(), err)
			}
			out.Data = out.Data[:outEnd(out)]
			return
		}
		out.Data = append(out.Data, enc...)
		out.Data = append(out.Data, p.pane...)
	}
	out.Data = append(out.Data, value...)
	out.Ends = append(out.Ends, len(out.Data))
	out.MinTS, out.MaxTS = min(out.MinTS, ts), max(out.MaxTS, ts)
}

// output returns the bundle's Output of o.
func (p *encodedPlan) output(o *encodedOut) *Output {
	if o.out == nil {
		if o.out = p.dm.outputs[o.pcol]; o.out == nil {
			o.out = p.dm.newOutput(o.pcol)
			p.dm.outputs[o.pcol] = o.out
		}
	}
	return o.out
}

func outEnd(o *Output) int {
	if len(o.Ends) == 0 {
		return 0
	}
	return o.Ends[len(o.Ends)-1]
}

// assign returns the windows o's window function assigns to event time
// ts: the slice of the call before when they are the same (same), a new
// one otherwise, never changed after (values keep it). For fixed windows
// the window is made only when it changed.
func (o *encodedOut) assign(ts typex.EventTime) (ws []typex.Window, same bool) {
	if o.wfn.Kind == window.FixedWindows {
		start, end := fixedWindow(o.wfn, ts)
		if o.last != nil && start == o.start && end == o.end {
			return o.last, true
		}
		ws = []typex.Window{window.IntervalWindow{Start: start, End: end}}
		o.start, o.end = start, end
	} else if ws = assignWindows(o.wfn, ts); o.last != nil && sameWindows(ws, o.last) {
		return o.last, true
	}
	o.last, o.lastEnc = ws, nil
	return ws, false
}

// windows returns the encoding of the windows o's window function assigns
// to event time ts, reusing the last one when the windows are the same.
func (o *encodedOut) windows(ts typex.EventTime) ([]byte, error) {
	ws, same := o.assign(ts)
	if same && o.lastEnc != nil {
		return o.lastEnc, nil
	}
	var b bytes.Buffer
	if err := o.wenc.Encode(ws, &b); err != nil {
		return nil, err
	}
	o.lastEnc = b.Bytes()
	return o.lastEnc, nil
}

// fixedWindow is the window a fixed window function assigns to ts.
func fixedWindow(wfn *window.Fn, ts typex.EventTime) (start, end typex.EventTime) {
	start = ts - (ts.Add(wfn.Size) % mtime.FromDuration(wfn.Size))
	end = mtime.Min(start.Add(wfn.Size), mtime.EndOfGlobalWindowTime.Add(time.Millisecond))
	return start, end
}

func sameWindows(a, b []typex.Window) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equals(b[i]) {
			return false
		}
	}
	return true
}

// assignWindows is the SDK's WindowInto (exec.assignWindows, unexported).
func assignWindows(wfn *window.Fn, ts typex.EventTime) []typex.Window {
	switch wfn.Kind {
	case window.GlobalWindows:
		return window.SingleGlobalWindow
	case window.FixedWindows:
		start, end := fixedWindow(wfn, ts)
		return []typex.Window{window.IntervalWindow{Start: start, End: end}}
	case window.SlidingWindows:
		var ret []typex.Window
		period := mtime.FromDuration(wfn.Period)
		lastStart := ts - (ts % period)
		for start := lastStart; start > ts.Subtract(wfn.Size); start -= period {
			ret = append(ret, window.IntervalWindow{Start: start, End: start.Add(wfn.Size)})
		}
		return ret
	case window.Sessions:
		return []typex.Window{window.IntervalWindow{Start: ts, End: ts.Add(wfn.Gap)}}
	}
	panic(fmt.Sprintf("localrunner: unexpected window function %v", wfn))
}

// guard runs a call into the DoFn, turning its error or panic into a
// *TransformError naming the ParDo.
func (p *encodedPlan) guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicError(p.stage, p.name, p.dofn.Name(), r)
		}
	}()
	if err = f(); err != nil {
		return callError(p.stage, p.name, p.dofn.Name(), err)
	}
	return nil
}
