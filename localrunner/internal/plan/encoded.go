package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/protobuf/proto"

	"github.com/streams-dev/streams/internal/contract"
)

// EncodedDoFn is implemented by DoFns that can process elements in their
// encoded form: for a stage of the Encoded shape, the worker hands the
// DoFn each encoded element and writes what it emits, already encoded
// (contract.EncodedDoFn says what the DoFn promises).
type EncodedDoFn = contract.EncodedDoFn

// Encoded describes an SDK stage that is one ParDo between its data source
// and its data sinks, perhaps with a WindowInto after an output:
//
//	source -> ParDo -> [WindowInto] -> sink, per output
//
// Such a stage skips the SDK's executor when its DoFn is an EncodedDoFn
// for the stage's coders, which the worker checks again on the instance
// it runs (EncodedDoFnOf). Any DoFn's stage may have the shape; the
// planner makes it for EncodedDoFns by starting a stage after them.
type Encoded struct {
	// ParDo is the transform ID of the ParDo.
	ParDo string
	// Input is the windowed-value coder of the ParDo's main input.
	Input *coder.Coder
	// Outputs are the ParDo's outputs in the order of its emitters.
	Outputs []EncodedOutput
}

// EncodedOutput is where one output of an Encoded stage's ParDo goes.
type EncodedOutput struct {
	// PCollection is the stage output written, or "" when nothing reads
	// the ParDo's output (its elements are discarded).
	PCollection string
	// Coder is the windowed-value coder of what the ParDo emits there,
	// and Sink that of PCollection (the same unless Window is set).
	Coder, Sink *coder.Coder
	// Window, when set, is the WindowInto's window function between the
	// ParDo's output and PCollection: its elements get the windows it
	// assigns to their event times.
	Window *window.Fn
	// Values is set when the output's only reader adds each element to an
	// accumulator of a CombineFn that takes Go values (a combining
	// GroupByKey: values.go): the worker then asks the DoFn for the
	// elements as values (contract.ValueDoFn).
	Values bool
}

// EncodedDoFnOf decodes the DoFn of ParDo t, a new instance, and returns
// it with itself as an EncodedDoFn when it is one that can read elements
// of coder in and write elements of coders outs (its outputs' in order)
// and has no StartBundle; otherwise fn is nil.
func EncodedDoFnOf(t *pipepb.PTransform, in *coder.Coder, outs []*coder.Coder) (dofn *graph.DoFn, fn EncodedDoFn) {
	f := DecodeDoFn(t)
	if f == nil {
		return nil, nil
	}
	dofn, err := graph.AsDoFn(f, graph.MainUnknown)
	if err != nil {
		return nil, nil
	}
	fn, ok := dofn.Recv.(EncodedDoFn)
	if !ok || dofn.StartBundleFn() != nil || !fn.ProcessEncodedFor(in, outs) {
		return nil, nil
	}
	return dofn, fn
}

// isEncodedDoFn reports whether ParDo t's DoFn is an EncodedDoFn for the
// coders of its main input and outputs.
func (pl *planner) isEncodedDoFn(id string, t *pipepb.PTransform) bool {
	locals, ok := outputOrder(t.GetOutputs())
	if !ok || len(t.GetInputs()) != 1 {
		return false
	}
	in, err := pl.windowedCoder(pl.mainInput(id))
	if err != nil {
		return false
	}
	outs := make([]*coder.Coder, len(locals))
	for i, local := range locals {
		c, err := pl.windowedCoder(t.GetOutputs()[local])
		if err != nil {
			return false
		}
		outs[i] = coder.SkipW(c)
	}
	_, fn := EncodedDoFnOf(t, coder.SkipW(in), outs)
	return fn != nil
}

// encodedTail reports whether PCollection p is an output of an
// EncodedDoFn's ParDo, or of a WindowInto right after one.
func (pl *planner) encodedTail(producer map[string]string, p string) bool {
	prod, ok := producer[p]
	if !ok {
		return false
	}
	if pl.encodable[prod] {
		return true
	}
	if pl.ts[prod].GetSpec().GetUrn() != URNWindowInto {
		return false
	}
	pp, ok := producer[pl.mainInput(prod)]
	return ok && pl.encodable[pp]
}

// encoded returns s's Encoded form, or nil when s has another shape.
func (pl *planner) encoded(s *Stage) *Encoded {
	if s.Kind != KindSDK || s.Splittable || s.Stateful || len(s.SideInputs) > 0 {
		return nil
	}
	in := map[string]bool{}
	for _, tid := range s.Transforms {
		in[tid] = true
	}
	// consumers of each PCollection inside the stage
	consumers := map[string][]string{}
	var pardo string
	for _, tid := range s.Transforms {
		t := pl.ts[tid]
		switch t.GetSpec().GetUrn() {
		case URNParDo:
			if pardo != "" {
				return nil
			}
			pardo = tid
		case URNWindowInto:
		default:
			return nil
		}
		for _, p := range t.GetInputs() {
			consumers[p] = append(consumers[p], tid)
		}
	}
	if pardo == "" {
		return nil
	}
	t := pl.ts[pardo]
	if len(t.GetInputs()) != 1 || pl.mainInput(pardo) != s.Input {
		return nil
	}
	var payload pipepb.ParDoPayload
	if err := proto.Unmarshal(t.GetSpec().GetPayload(), &payload); err != nil || payload.GetDoFn().GetUrn() != graphx.URNDoFn {
		return nil
	}
	inCoder, err := pl.windowedCoder(s.Input)
	if err != nil {
		return nil
	}
	e := &Encoded{ParDo: pardo, Input: inCoder}
	locals, ok := outputOrder(t.GetOutputs())
	if !ok {
		return nil
	}
	sinks := func(p string) bool { return slices.Contains(s.Outputs, p) }
	for _, local := range locals {
		p := t.GetOutputs()[local]
		c, err := pl.windowedCoder(p)
		if err != nil {
			return nil
		}
		out := EncodedOutput{Coder: c}
		switch cs := consumers[p]; {
		case len(cs) == 0 && sinks(p):
			out.PCollection, out.Sink = p, c
		case len(cs) == 0:
			// Nothing reads it: discarded.
		case len(cs) == 1 && !sinks(p) && pl.ts[cs[0]].GetSpec().GetUrn() == URNWindowInto:
			w := pl.ts[cs[0]]
			var wp pipepb.WindowIntoPayload
			if err := proto.Unmarshal(w.GetSpec().GetPayload(), &wp); err != nil {
				return nil
			}
			fn, err := windowFn(wp.GetWindowFn())
			if err != nil || len(w.GetOutputs()) != 1 {
				return nil
			}
			var wout string
			for _, o := range w.GetOutputs() {
				wout = o
			}
			if len(consumers[wout]) != 0 || !sinks(wout) {
				return nil
			}
			sc, err := pl.windowedCoder(wout)
			if err != nil {
				return nil
			}
			out.PCollection, out.Sink, out.Window = wout, sc, fn
		default:
			return nil
		}
		e.Outputs = append(e.Outputs, out)
	}
	return e
}

// outputOrder returns the local names of a Go ParDo's outputs in the order
// of its emitters: "i0", "i1", ... as graphx names them.
func outputOrder(outs map[string]string) ([]string, bool) {
	locals := make([]string, len(outs))
	for local := range outs {
		i, err := strconv.Atoi(strings.TrimPrefix(local, "i"))
		if !strings.HasPrefix(local, "i") || err != nil || i < 0 || i >= len(outs) || locals[i] != "" {
			return nil, false
		}
		locals[i] = local
	}
	return locals, true
}

// windowFn decodes the window functions the Go SDK's WindowInto knows, as
// its exec package does.
func windowFn(spec *pipepb.FunctionSpec) (*window.Fn, error) {
	switch urn := spec.GetUrn(); urn {
	case graphx.URNGlobalWindowsWindowFn:
		return window.NewGlobalWindows(), nil
	case graphx.URNFixedWindowsWindowFn:
		var p pipepb.FixedWindowsPayload
		if err := proto.Unmarshal(spec.GetPayload(), &p); err != nil {
			return nil, err
		}
		if err := p.GetSize().CheckValid(); err != nil {
			return nil, err
		}
		return window.NewFixedWindows(p.GetSize().AsDuration()), nil
	case graphx.URNSlidingWindowsWindowFn:
		var p pipepb.SlidingWindowsPayload
		if err := proto.Unmarshal(spec.GetPayload(), &p); err != nil {
			return nil, err
		}
		if err := p.GetPeriod().CheckValid(); err != nil {
			return nil, err
		}
		if err := p.GetSize().CheckValid(); err != nil {
			return nil, err
		}
		return window.NewSlidingWindows(p.GetPeriod().AsDuration(), p.GetSize().AsDuration()), nil
	case graphx.URNSessionsWindowFn:
		var p pipepb.SessionWindowsPayload
		if err := proto.Unmarshal(spec.GetPayload(), &p); err != nil {
			return nil, err
		}
		if err := p.GetGapSize().CheckValid(); err != nil {
			return nil, err
		}
		return window.NewSessions(p.GetGapSize().AsDuration()), nil
	default:
		return nil, fmt.Errorf("unknown window function %q", urn)
	}
}
