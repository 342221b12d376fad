package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/protobuf/proto"
)

// Encoded describes an SDK stage that is one ParDo between its data source
// and its data sinks, perhaps with a WindowInto after an output:
//
//	source -> ParDo -> [WindowInto] -> sink, per output
//
// Such a stage may skip the SDK's executor when its DoFn processes
// encoded elements itself (worker.EncodedDoFn); the worker decides, since
// only it decodes the DoFn.
type Encoded struct {
	// ParDo is the transform ID of the ParDo; Payload its DoFn's payload.
	ParDo   string
	Payload string
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
	e := &Encoded{ParDo: pardo, Payload: string(payload.GetDoFn().GetPayload()), Input: inCoder}
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
