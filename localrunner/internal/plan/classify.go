package plan

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	v1pb "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx/v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/protox"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/timer"
	"google.golang.org/protobuf/proto"
)

// composites handles the composites the runner understands as a whole.
func (pl *planner) composites() {
	for _, id := range sortedKeys(pl.ts) {
		t := pl.ts[id]
		if pl.skip[id] || len(t.GetSubtransforms()) == 0 {
			continue
		}
		if _, ok := t.GetAnnotations()[LateDataAnnotation]; ok {
			pl.lateReader(id)
			continue
		}
		switch t.GetSpec().GetUrn() {
		case URNCombinePerKey:
			pl.liftCombine(id, t)
		case URNReshuffle:
			// A reshuffle only breaks fusion and redistributes: in one process
			// it is the identity. It becomes a one-input runner-side Flatten.
			in, out := pl.boundary(id)
			if len(in) != 1 || len(out) != 1 {
				continue // unexpected shape: leave it to its leaves
			}
			pl.skipSubtree(id)
			pl.ts[id] = &pipepb.PTransform{
				UniqueName: t.GetUniqueName(),
				Spec:       &pipepb.FunctionSpec{Urn: URNFlatten},
				Inputs:     map[string]string{"i0": in[0]},
				Outputs:    map[string]string{"i0": out[0]},
			}
		}
	}
}

// boundary returns the PCollections a composite reads from outside and
// writes to outside, computed from its leaves (Go's Reshuffle composite does
// not list them itself).
func (pl *planner) boundary(id string) (in, out []string) {
	produced := map[string]bool{}
	consumed := map[string]bool{}
	var walk func(string)
	var leaves []*pipepb.PTransform
	walk = func(tid string) {
		t := pl.ts[tid]
		if len(t.GetSubtransforms()) == 0 {
			leaves = append(leaves, t)
			return
		}
		for _, sub := range t.GetSubtransforms() {
			walk(sub)
		}
	}
	walk(id)
	for _, t := range leaves {
		for _, p := range t.GetOutputs() {
			produced[p] = true
		}
		for _, p := range t.GetInputs() {
			consumed[p] = true
		}
	}
	for _, t := range leaves {
		for _, p := range t.GetInputs() {
			if !produced[p] && !slices.Contains(in, p) {
				in = append(in, p)
			}
		}
		for _, p := range t.GetOutputs() {
			if !consumed[p] && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return in, out
}

func (pl *planner) classifyLeaves() {
	for _, id := range sortedKeys(pl.ts) {
		t := pl.ts[id]
		if pl.skip[id] || len(t.GetSubtransforms()) > 0 || t.GetSpec() == nil {
			continue
		}
		if pl.kafka[id] != nil || pl.writes[id] != nil {
			pl.runnerSide[id] = true
			pl.leaves = append(pl.leaves, id)
			continue
		}
		switch urn := t.GetSpec().GetUrn(); urn {
		case URNImpulse, URNFlatten:
			pl.runnerSide[id] = true
			pl.leaves = append(pl.leaves, id)
		case URNWindowInto, URNCombineExtract:
			pl.leaves = append(pl.leaves, id)
		case URNParDo:
			pl.parDo(id, t)
		case URNGroupByKey:
			pl.groupByKey(id)
		case URNTestStream:
			pl.testStream(id, t)
		default:
			pl.refuse(id, reasonUnknown)
		}
	}
}

func (pl *planner) parDo(id string, t *pipepb.PTransform) {
	var pardo pipepb.ParDoPayload
	if err := proto.Unmarshal(t.GetSpec().GetPayload(), &pardo); err != nil {
		pl.errs = append(pl.errs, fmt.Errorf("localrunner: transform %q: bad ParDo payload: %w", t.GetUniqueName(), err))
		return
	}
	switch {
	case pardo.GetOnWindowExpirationTimerFamilySpec() != "":
		pl.refuse(id, reasonWindowExpiration)
		return
	case pardo.GetRequiresTimeSortedInput():
		pl.refuse(id, reasonSorted)
		return
	}
	if len(pardo.GetStateSpecs()) > 0 || len(pardo.GetTimerFamilySpecs()) > 0 {
		if reason := unsupportedState(&pardo); reason != "" {
			pl.refuse(id, reason)
			return
		}
		fams, err := pl.timerFamilies(id, &pardo)
		if err != nil {
			pl.errs = append(pl.errs, fmt.Errorf("localrunner: transform %q: %w", t.GetUniqueName(), err))
			return
		}
		pl.timers[id] = fams
		// A stateful DoFn starts a stage, whose bundles each take the keys
		// of one lane: a key's state is never read by two bundles at once.
		pl.stateful[id] = true
		pl.forced[id] = true
	}
	if len(pardo.GetSideInputs()) > 0 {
		if pardo.GetRestrictionCoderId() != "" {
			pl.refuse(id, reasonSDFSideInput)
			return
		}
		for local, si := range pardo.GetSideInputs() {
			if urn := si.GetAccessPattern().GetUrn(); urn != graphx.URNIterableSideInput && urn != graphx.URNMultimapSideInput {
				pl.refuse(id, fmt.Sprintf("side input %s uses the access pattern %q", local, urn))
				return
			}
			// A side input is served once its PCollection is complete. For
			// the global window that is Beam's rule whatever the
			// boundedness (the default trigger fires the global window at
			// the end of time); a windowed side input of an unbounded
			// PCollection must be served window by window.
			pc := pl.comps.GetPcollections()[t.GetInputs()[local]]
			ws := pl.comps.GetWindowingStrategies()[pc.GetWindowingStrategyId()]
			if pc.GetIsBounded() != pipepb.IsBounded_BOUNDED && ws.GetWindowFn().GetUrn() != graphx.URNGlobalWindowsWindowFn {
				pl.refuse(id, reasonUnboundedSideInput)
				return
			}
		}
		// A side input is served once complete; reading it from the stage
		// producing it would wait forever, so side input readers start a
		// stage.
		pl.sides[id] = pardo.GetSideInputs()
		pl.forced[id] = true
	}
	if pardo.GetRestrictionCoderId() == "" {
		pl.leaves = append(pl.leaves, id)
		if pl.opts.EncodedDoFns && !pl.stateful[id] && len(pardo.GetSideInputs()) == 0 {
			pl.encodable[id] = pl.isEncodedDoFn(id, t)
		}
		return
	}
	pl.expandSDF(id, t, &pardo)
}

// testStream decodes a TestStream's events; the engine plays them.
func (pl *planner) testStream(id string, t *pipepb.PTransform) {
	var p pipepb.TestStreamPayload
	if err := proto.Unmarshal(t.GetSpec().GetPayload(), &p); err != nil {
		pl.errs = append(pl.errs, fmt.Errorf("localrunner: transform %q: bad TestStream payload: %w", t.GetUniqueName(), err))
		return
	}
	if len(t.GetOutputs()) != 1 {
		pl.refuse(id, "a TestStream with several outputs (tagged events) is not supported")
		return
	}
	events := []TestStreamEvent{}
	for _, ev := range p.GetEvents() {
		switch {
		case ev.GetElementEvent() != nil:
			var es []TestStreamElement
			for _, e := range ev.GetElementEvent().GetElements() {
				es = append(es, TestStreamElement{Encoded: e.GetEncodedElement(), EventTime: mtime.Time(e.GetTimestamp())})
			}
			events = append(events, TestStreamEvent{Elements: es})
		case ev.GetWatermarkEvent() != nil:
			w := mtime.Time(ev.GetWatermarkEvent().GetNewWatermark())
			events = append(events, TestStreamEvent{Watermark: &w})
		case ev.GetProcessingTimeEvent() != nil:
			// Advancing to infinity is MaxTimestamp milliseconds, more
			// than a Duration holds.
			ms := ev.GetProcessingTimeEvent().GetAdvanceDuration()
			d := time.Duration(math.MaxInt64)
			if ms < int64(d/time.Millisecond) {
				d = time.Duration(ms) * time.Millisecond
			}
			events = append(events, TestStreamEvent{Advance: d})
		}
	}
	pl.tests[id] = events
	pl.runnerSide[id] = true
	pl.leaves = append(pl.leaves, id)
}

// timerFamilies returns the timer families of a ParDo, sorted by name.
func (pl *planner) timerFamilies(id string, pardo *pipepb.ParDoPayload) ([]timer.Family, error) {
	cu := graphx.NewCoderUnmarshaller(pl.comps.GetCoders())
	var fams []timer.Family
	for _, name := range sortedKeys(pardo.GetTimerFamilySpecs()) {
		spec := pardo.GetTimerFamilySpecs()[name]
		c, err := cu.Coder(spec.GetTimerFamilyCoderId())
		if err != nil {
			return nil, fmt.Errorf("timer family %q: %w", name, err)
		}
		fams = append(fams, timer.Family{Transform: id, Name: pl.names[id], Family: name, Processing: spec.GetTimeDomain() == pipepb.TimeDomain_PROCESSING_TIME, Coder: c})
	}
	return fams, nil
}

// isFlatten reports whether a leaf is a runner-side Flatten (Reshuffles
// included): resolved into consumer lists, not a stage.
func (pl *planner) isFlatten(tid string) bool {
	return pl.runnerSide[tid] && pl.ts[tid].GetSpec().GetUrn() == URNFlatten
}

// groupByKey makes a GroupByKey a runner-side leaf, or refuses it when its
// input's windowing strategy asks for what the engine does not do.
func (pl *planner) groupByKey(id string) {
	in := pl.mainInput(id)
	pc := pl.comps.GetPcollections()[in]
	ws := pl.comps.GetWindowingStrategies()[pc.GetWindowingStrategyId()]
	if ws == nil {
		pl.errs = append(pl.errs, fmt.Errorf("localrunner: transform %q: input %q has no windowing strategy", pl.names[id], in))
		return
	}
	if reason := unsupportedStrategy(ws); reason != "" {
		pl.refuse(id, reason)
		return
	}
	c, err := pl.windowedCoder(in)
	if err == nil && !coder.IsKV(coder.SkipW(c)) {
		err = fmt.Errorf("input coder %v is not a KV", coder.SkipW(c))
	}
	if err != nil {
		pl.errs = append(pl.errs, fmt.Errorf("localrunner: transform %q: %w", pl.names[id], err))
		return
	}
	dropped := pl.droppedOutput(id, in)
	pl.groups[id] = &Group{
		Coder:   c,
		Combine: pl.combines[id],
		Dropped: dropped,
		Strategy: group.Strategy{
			Merging:         ws.GetMergeStatus() == pipepb.MergeStatus_NEEDS_MERGE,
			AllowedLateness: ws.GetAllowedLateness(),
			Accumulating:    ws.GetAccumulationMode() == pipepb.AccumulationMode_ACCUMULATING,
			Trigger:         groupTrigger(ws.GetTrigger()),
		},
	}
	pl.runnerSide[id] = true
	pl.leaves = append(pl.leaves, id)
}

// mainInput returns the PCollection a transform reads element by element.
func (pl *planner) mainInput(tid string) string {
	t := pl.ts[tid]
	if len(t.GetInputs()) == 1 {
		for _, p := range t.GetInputs() {
			return p
		}
	}
	var pardo pipepb.ParDoPayload
	_ = proto.Unmarshal(t.GetSpec().GetPayload(), &pardo)
	for _, local := range sortedKeys(t.GetInputs()) {
		if _, side := pardo.GetSideInputs()[local]; !side {
			return t.GetInputs()[local]
		}
	}
	return ""
}

// doFnName decodes the Go DoFn behind a ParDo-like transform and returns its
// name, or "" when it cannot.
func doFnName(t *pipepb.PTransform) string {
	if fn := DecodeDoFn(t); fn != nil {
		return fn.Name()
	}
	return ""
}

// decodeDoFn decodes the Go DoFn behind a ParDo-like transform (its
// receiver rebuilt from the serialised fields), or returns nil.
func DecodeDoFn(t *pipepb.PTransform) (fn *graph.Fn) {
	defer func() {
		if recover() != nil {
			fn = nil
		}
	}()
	var pardo pipepb.ParDoPayload
	if err := proto.Unmarshal(t.GetSpec().GetPayload(), &pardo); err != nil {
		return nil
	}
	var tp v1pb.TransformPayload
	if err := protox.DecodeBase64(string(pardo.GetDoFn().GetPayload()), &tp); err != nil {
		return nil
	}
	if tp.GetUrn() != graphx.URNDoFn {
		return nil
	}
	_, fn, _, _, _, err := graphx.DecodeMultiEdge(tp.GetEdge())
	if err != nil {
		return nil
	}
	return fn
}
