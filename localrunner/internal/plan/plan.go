// Package plan turns a Beam pipeline proto into the stages the local runner
// executes: it refuses what the engine cannot run yet, expands splittable
// DoFns, fuses stateless chains into stages and builds one
// ProcessBundleDescriptor per stage for the SDK's own executor.
//
// # Stages
//
// A stage is either runner-side (Impulse, a native Kafka read, a
// GroupByKey) or a fused chain of SDK transforms (ParDo, WindowInto, the
// three parts of an expanded SDF) read through one data source and written
// through one data sink per PCollection that leaves the stage. Flatten (and
// Reshuffle, which is an identity here) are not stages: they are resolved
// into the consumer lists, so the elements a stage writes to a flattened
// PCollection go straight to the stages reading the Flatten's output. A
// GroupByKey stage reads its input PCollection like an SDK stage would
// (through Flattens: CoGroupByKey is tagging ParDos, a Flatten and a
// GroupByKey) and produces its output for the stages reading it. A
// CombinePerKey with a Go CombineFn is lifted (liftCombine): a combining
// GroupByKey, then the CombineFn's ExtractOutput.
//
// Fusion is greedy: an SDK transform joins the stage producing its main
// input unless it is a forced root. Forced roots: the
// ProcessSizedElementsAndRestrictions of an SDF (the SDK can only checkpoint
// an SDF that sits right after the data source), transforms reading side
// inputs (a side input is served once complete, so its reader must not sit
// in the stage producing it), stateful DoFns (their stage runs one bundle
// per key lane at a time; upstream transforms keep their parallelism), and any
// transform whose main input comes from the runner (Impulse, Flatten,
// GroupByKey). Transforms reading the same runner-produced PCollection
// share one stage, unless forced roots.
//
// # Refusals
//
// Everything the engine cannot execute yet is reported before anything
// runs, all at once (errors.Join of *UnsupportedError): GroupByKeys whose
// windowing strategy asks for a trigger other than the default (or for
// what the Go SDK never produces: other output times, retracting panes,
// FIRE_ALWAYS and EMIT_ALWAYS, custom window functions), OnWindowExpiration,
// stateful splittable DoFns, time-sorted input,
// windowed side inputs from unbounded PCollections, splittable DoFns with
// side inputs, and unknown URNs.
package plan

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	v1pb "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx/v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/pipelinex"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/protox"
	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/timer"
	"google.golang.org/protobuf/proto"
)

// URNs the planner handles. The SDK's exec package does not export its own.
const (
	URNImpulse       = graphx.URNImpulse
	URNParDo         = graphx.URNParDo
	URNFlatten       = graphx.URNFlatten
	URNWindowInto    = graphx.URNWindow
	URNGroupByKey    = graphx.URNGBK
	URNReshuffle     = graphx.URNReshuffle
	URNCombinePerKey = graphx.URNCombinePerKey
	URNTestStream    = "beam:transform:teststream:v1"
	// URNCombineExtract is the last part of a lifted combine, as in the
	// SDK's exec package: KV<K, A> -> KV<K, O>.
	URNCombineExtract = "beam:transform:combine_per_key_extract_outputs:v1"

	URNPairWithRestriction = "beam:transform:sdf_pair_with_restriction:v1"
	URNSplitAndSize        = "beam:transform:sdf_split_and_size_restrictions:v1"
	URNProcessSized        = "beam:transform:sdf_process_sized_element_and_restrictions:v1"

	URNDataSource = "beam:runner:source:v1"
	URNDataSink   = "beam:runner:sink:v1"

	urnCoderKV            = "beam:coder:kv:v1"
	urnCoderDouble        = "beam:coder:double:v1"
	urnCoderWindowedValue = "beam:coder:windowed_value:v1"
)

// Kind says who executes a stage.
type Kind int

const (
	// KindSDK stages run in process through the SDK's exec package.
	KindSDK Kind = iota + 1
	// KindImpulse stages are runner-side: one empty []byte element in the
	// global window at the minimum timestamp.
	KindImpulse
	// KindKafka stages are runner-side: a kafka.Read (Impulse, listing DoFn,
	// splittable reading DoFn) executed by a consumer-group member instead
	// of its DoFns. See Stage.Kafka.
	KindKafka
	// KindGroup stages are runner-side: a GroupByKey, buffered and fired
	// by the engine (package group). See Stage.Group.
	KindGroup
	// KindTestStream stages are runner-side: a TestStream's events, played
	// by the engine one at a time. See Stage.TestStream.
	KindTestStream
)

// Stage is one unit of scheduling.
type Stage struct {
	ID   string
	Kind Kind
	// Transforms are the IDs of the pipeline transforms in the stage, in
	// topological order; Names are their unique names.
	Transforms []string
	Names      []string
	// Input is the PCollection the stage's data source decodes: the main
	// input of its root transform(s). Empty for Impulse.
	Input string
	// Upstream are the PCollections, produced by other stages, whose
	// elements feed this stage: Input itself, or what flows into the
	// Flattens leading to Input.
	Upstream []string
	// Outputs are the PCollections this stage produces that other stages
	// read.
	Outputs []string
	// Descriptor is what the SDK executes (KindSDK only).
	Descriptor *fnpb.ProcessBundleDescriptor
	// SourceID is the data source transform in Descriptor.
	SourceID string
	// Sinks maps each data sink transform in Descriptor to the PCollection
	// it writes.
	Sinks map[string]string
	// Splittable is set when the root is the ProcessSizedElementsAndRestrictions
	// of an expanded SDF: its bundles may return residuals.
	Splittable bool
	// Stateful is set when the root is a stateful DoFn (user state or
	// timers): the stage runs one bundle per key lane at a time (keys
	// spread by hash, StateKey), each in a transaction on its state.
	Stateful bool
	// Timers are the timer families of the stateful DoFn.
	Timers []timer.Family
	// StateWindow and StateAllowedLateness (ms) are the window coder and
	// allowed lateness of the stateful DoFn's main input: its state in a
	// window is dropped once the window expires.
	StateWindow          *coder.WindowCoder
	StateAllowedLateness int64
	// StateKey is the key coder of the stateful DoFn's input KVs: elements
	// are spread over parallel bundles by the hash of their encoded key,
	// so that a key's state is never in two bundles at once.
	StateKey *coder.Coder
	// DoFns maps transform IDs to Go DoFn names (package path and type or
	// function name), for attributing panics to a transform.
	DoFns map[string]string
	// SideInputs read by the stage's transforms. A stage with side inputs
	// runs once they are complete.
	SideInputs []*SideInput
	// Encoded is set on an SDK stage that is one ParDo between its data
	// source and sinks (with Options.EncodedDoFns).
	Encoded *Encoded
	// Kafka describes the read of a KindKafka stage.
	Kafka *KafkaRead
	// Group describes the GroupByKey of a KindGroup stage. Its Input is
	// the GroupByKey's input, Outputs its one output.
	Group *Group
	// TestStream holds the events of a KindTestStream stage.
	TestStream []TestStreamEvent
}

// TestStreamEvent is one event of a TestStream, in the model's terms:
// elements (encoded with the output's element coder, each with its event
// time), a new watermark, or an advance of processing time; exactly one
// of the three is set.
type TestStreamEvent struct {
	Elements  []TestStreamElement
	Watermark *mtime.Time
	Advance   time.Duration
}

// TestStreamElement is an element of a TestStream.
type TestStreamElement struct {
	Encoded   []byte
	EventTime mtime.Time
}

// Group is a GroupByKey the runner executes.
type Group struct {
	// Coder is the windowed-value coder of the input KVs.
	Coder *coder.Coder
	// Strategy is what grouping needs of the input's windowing strategy.
	Strategy group.Strategy
	// Combine is set for the GroupByKey of a lifted CombinePerKey: the
	// runner adds each value to its key and window's accumulator as it
	// arrives and emits KV<K, A>.
	Combine *Combine
	// Dropped, when set, is the PCollection (one of the stage's Outputs,
	// with the input's coder and windowing) that receives the elements the
	// GroupByKey drops as late: see LateDataAnnotation.
	Dropped string
}

// Combine is the CombineFn of a lifted CombinePerKey.
type Combine struct {
	// Name is the CombinePerKey's unique name.
	Name string
	// Payload is the CombineFn as the Go SDK serialises it (the base64
	// TransformPayload of the CombinePayload's FunctionSpec).
	Payload string
	// Accumulator is the accumulator coder.
	Accumulator *coder.Coder
}

// KafkaRead is a kafka.Read the runner executes natively.
type KafkaRead struct {
	// Config is the read's configuration, decoded from its DoFns.
	Config kafka.ReadConfig
	// Output is the PCollection of kafka.Record the read produces, and
	// Coder its windowed-value coder (global window).
	Output string
	Coder  *coder.Coder
}

// Options of Build.
type Options struct {
	// NativeKafka substitutes a runner-side stage (KindKafka) for each
	// kafka.Read that has a consumer group and reads into the global
	// window. Off, the read runs as the splittable DoFn it is.
	NativeKafka bool
	// EncodedDoFns sets Stage.Encoded on the stages of that shape, so that
	// the worker may run their DoFn on encoded elements.
	EncodedDoFns bool
}

// SideInput is one side input of one transform.
type SideInput struct {
	// Transform and Local identify it as the SDK asks for it (the
	// transform ID and the input's local name, "i1" and so on).
	Transform, Local string
	// PCollection is the side input as the transform names it; Sources are
	// the PCollections, produced by stages, whose elements make it up
	// (PCollection itself, or the inputs of the Flattens producing it).
	PCollection string
	Sources     []string
	// Multimap is set for the multimap access pattern (map views, func(K)
	// func(*V) bool); otherwise it is iterable.
	Multimap bool
	// Coder is the windowed-value coder of PCollection's elements.
	Coder *coder.Coder
}

// Plan is a pipeline ready for the engine.
type Plan struct {
	// Stages in topological order.
	Stages []*Stage
	// Consumers maps each PCollection crossing a stage boundary to the stages
	// reading it, once per read (a Flatten listing a PCollection twice reads
	// it twice).
	Consumers map[string][]string
	// Producers maps the same PCollections to the stage writing them.
	Producers map[string]string
	// TransformNames maps transform IDs to unique names.
	TransformNames map[string]string
	// Unbounded is set when any PCollection is unbounded.
	Unbounded bool
}

// Stage returns the stage with the given ID, or nil.
func (p *Plan) Stage(id string) *Stage {
	for _, s := range p.Stages {
		if s.ID == id {
			return s
		}
	}
	return nil
}

type link struct {
	transform string
	local     string
}

type planner struct {
	comps      *pipepb.Components
	ts         map[string]*pipepb.PTransform
	parent     map[string]string // transform -> enclosing composite
	skip       map[string]bool   // handled at composite level
	leaves     []string
	runnerSide map[string]bool                         // Impulse and Flatten (Reshuffle becomes a Flatten)
	forced     map[string]bool                         // forced stage roots
	splittable map[string]bool                         // ProcessSized transforms
	stateful   map[string]bool                         // stateful DoFns
	timers     map[string][]timer.Family               // timer families of stateful DoFns
	tests      map[string][]TestStreamEvent            // TestStreams
	sides      map[string]map[string]*pipepb.SideInput // transform -> local -> side input
	kafka      map[string]*KafkaRead                   // reading transform -> native read
	groups     map[string]*Group                       // GroupByKey transforms
	combines   map[string]*Combine                     // GroupByKeys of lifted combines
	encodable  map[string]bool                         // ParDos of EncodedDoFns (Options.EncodedDoFns)
	late       map[string]link                         // PCollection -> the late-data reader of it
	names      map[string]string
	opts       Options
	errs       []error
}

// Build plans p. The pipeline proto is not modified. Every refusal is
// returned at once, joined; each matches ErrUnsupported.
func Build(p *pipepb.Pipeline, opts Options) (*Plan, error) {
	comps := proto.Clone(p.GetComponents()).(*pipepb.Components)
	if comps == nil || len(comps.GetTransforms()) == 0 {
		return nil, errors.New("localrunner: empty pipeline")
	}
	if comps.Coders == nil {
		comps.Coders = map[string]*pipepb.Coder{}
	}
	pl := &planner{
		comps:      comps,
		ts:         comps.GetTransforms(),
		parent:     map[string]string{},
		skip:       map[string]bool{},
		runnerSide: map[string]bool{},
		forced:     map[string]bool{},
		splittable: map[string]bool{},
		stateful:   map[string]bool{},
		timers:     map[string][]timer.Family{},
		tests:      map[string][]TestStreamEvent{},
		sides:      map[string]map[string]*pipepb.SideInput{},
		kafka:      map[string]*KafkaRead{},
		groups:     map[string]*Group{},
		combines:   map[string]*Combine{},
		encodable:  map[string]bool{},
		late:       map[string]link{},
		names:      map[string]string{},
		opts:       opts,
	}
	for id, t := range pl.ts {
		pl.names[id] = t.GetUniqueName()
		for _, sub := range t.GetSubtransforms() {
			pl.parent[sub] = id
		}
	}
	pl.composites()
	if opts.NativeKafka {
		pl.nativeKafka()
	}
	pl.classifyLeaves()
	if len(pl.errs) > 0 {
		return nil, errors.Join(pl.errs...)
	}
	return pl.fuse()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (pl *planner) refuse(tid, reason string) {
	t := pl.ts[tid]
	pl.errs = append(pl.errs, &UnsupportedError{
		Transform: t.GetUniqueName(),
		Composite: pl.names[pl.parent[tid]],
		URN:       t.GetSpec().GetUrn(),
		Reason:    reason,
	})
}

func (pl *planner) skipSubtree(tid string) {
	for _, sub := range pl.ts[tid].GetSubtransforms() {
		pl.skip[sub] = true
		pl.skipSubtree(sub)
	}
}

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
		if pl.kafka[id] != nil {
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

// unsupportedState says why the engine cannot run a stateful DoFn, or "".
func unsupportedState(pardo *pipepb.ParDoPayload) string {
	if pardo.GetRestrictionCoderId() != "" {
		return reasonStatefulSDF
	}
	for _, id := range sortedKeys(pardo.GetStateSpecs()) {
		switch pardo.GetStateSpecs()[id].GetSpec().(type) {
		case *pipepb.StateSpec_ReadModifyWriteSpec, *pipepb.StateSpec_BagSpec, *pipepb.StateSpec_CombiningSpec,
			*pipepb.StateSpec_MapSpec, *pipepb.StateSpec_SetSpec, *pipepb.StateSpec_OrderedListSpec:
		default:
			return fmt.Sprintf("state %q: unknown kind of state %T", id, pardo.GetStateSpecs()[id].GetSpec())
		}
	}
	return ""
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

// unsupportedStrategy says why the engine cannot group under ws, or "".
func unsupportedStrategy(ws *pipepb.WindowingStrategy) string {
	switch urn := ws.GetWindowFn().GetUrn(); urn {
	case graphx.URNGlobalWindowsWindowFn, graphx.URNFixedWindowsWindowFn, graphx.URNSlidingWindowsWindowFn:
		if ws.GetMergeStatus() == pipepb.MergeStatus_NEEDS_MERGE {
			return fmt.Sprintf("window function %q with merge status NEEDS_MERGE", urn)
		}
	case graphx.URNSessionsWindowFn:
	default:
		return fmt.Sprintf("window function %q: only global, fixed, sliding and session windows are supported", urn)
	}
	if _, def := ws.GetTrigger().GetTrigger().(*pipepb.Trigger_Default_); !def {
		if ws.GetMergeStatus() == pipepb.MergeStatus_NEEDS_MERGE {
			return reasonTriggerMerging
		}
		if reason := unsupportedTrigger(ws.GetTrigger()); reason != "" {
			return reason
		}
	}
	if ws.GetOutputTime() != pipepb.OutputTime_END_OF_WINDOW {
		return fmt.Sprintf("output time %v: only END_OF_WINDOW (the Go SDK's) is supported", ws.GetOutputTime())
	}
	if m := ws.GetAccumulationMode(); m == pipepb.AccumulationMode_RETRACTING {
		return "retracting accumulation mode is not supported"
	}
	if ws.GetClosingBehavior() == pipepb.ClosingBehavior_EMIT_ALWAYS {
		return "closing behavior EMIT_ALWAYS is not supported"
	}
	if ws.GetOnTimeBehavior() == pipepb.OnTimeBehavior_FIRE_ALWAYS {
		return "on-time behavior FIRE_ALWAYS is not supported"
	}
	if ws.GetAllowedLateness() < 0 {
		return fmt.Sprintf("negative allowed lateness %dms", ws.GetAllowedLateness())
	}
	return ""
}

// unsupportedTrigger says why the group buffer cannot run t, or "".
func unsupportedTrigger(t *pipepb.Trigger) string {
	var subs []*pipepb.Trigger
	switch x := t.GetTrigger().(type) {
	case *pipepb.Trigger_Default_, *pipepb.Trigger_Always_, *pipepb.Trigger_Never_, *pipepb.Trigger_AfterSynchronizedProcessingTime_:
	case *pipepb.Trigger_ElementCount_:
		if x.ElementCount.GetElementCount() < 1 {
			return fmt.Sprintf("trigger AfterCount(%d): the count must be at least 1", x.ElementCount.GetElementCount())
		}
	case *pipepb.Trigger_AfterProcessingTime_:
		for _, tt := range x.AfterProcessingTime.GetTimestampTransforms() {
			switch y := tt.GetTimestampTransform().(type) {
			case *pipepb.TimestampTransform_Delay_:
				if y.Delay.GetDelayMillis() < 0 {
					return "trigger AfterProcessingTime with a negative delay"
				}
			case *pipepb.TimestampTransform_AlignTo_:
				if y.AlignTo.GetPeriod() <= 0 {
					return "trigger AfterProcessingTime aligned to a period that is not positive"
				}
			default:
				return fmt.Sprintf("trigger AfterProcessingTime with timestamp transform %T", y)
			}
		}
	case *pipepb.Trigger_AfterEndOfWindow_:
		subs = []*pipepb.Trigger{x.AfterEndOfWindow.GetEarlyFirings(), x.AfterEndOfWindow.GetLateFirings()}
	case *pipepb.Trigger_Repeat_:
		subs = []*pipepb.Trigger{x.Repeat.GetSubtrigger()}
	case *pipepb.Trigger_OrFinally_:
		subs = []*pipepb.Trigger{x.OrFinally.GetMain(), x.OrFinally.GetFinally()}
	case *pipepb.Trigger_AfterAny_:
		subs = x.AfterAny.GetSubtriggers()
	case *pipepb.Trigger_AfterAll_:
		subs = x.AfterAll.GetSubtriggers()
	case *pipepb.Trigger_AfterEach_:
		subs = x.AfterEach.GetSubtriggers()
	default:
		return fmt.Sprintf("trigger %T is not supported", x)
	}
	if len(subs) == 0 {
		switch t.GetTrigger().(type) {
		case *pipepb.Trigger_AfterAny_, *pipepb.Trigger_AfterAll_, *pipepb.Trigger_AfterEach_:
			return fmt.Sprintf("composite trigger %T without sub-triggers", t.GetTrigger())
		}
	}
	for _, sub := range subs {
		if sub == nil {
			continue // AfterEndOfWindow without early or late firings
		}
		if reason := unsupportedTrigger(sub); reason != "" {
			return reason
		}
	}
	return ""
}

// groupTrigger translates a trigger the planner accepted; nil for the
// default trigger at the root.
func groupTrigger(t *pipepb.Trigger) *group.Trigger {
	if _, def := t.GetTrigger().(*pipepb.Trigger_Default_); def || t == nil {
		return nil
	}
	return translateTrigger(t)
}

func translateTrigger(t *pipepb.Trigger) *group.Trigger {
	var subs []*pipepb.Trigger
	g := &group.Trigger{}
	switch x := t.GetTrigger().(type) {
	case *pipepb.Trigger_Default_:
		g.Kind = group.TriggerDefault
	case *pipepb.Trigger_Always_:
		g.Kind = group.TriggerAlways
	case *pipepb.Trigger_Never_:
		g.Kind = group.TriggerNever
	case *pipepb.Trigger_AfterSynchronizedProcessingTime_:
		g.Kind = group.TriggerAfterSynchronizedProcessingTime
	case *pipepb.Trigger_ElementCount_:
		g.Kind, g.Count = group.TriggerAfterCount, int64(x.ElementCount.GetElementCount())
	case *pipepb.Trigger_AfterProcessingTime_:
		g.Kind = group.TriggerAfterProcessingTime
		for _, tt := range x.AfterProcessingTime.GetTimestampTransforms() {
			if d := tt.GetDelay(); d != nil {
				g.Transforms = append(g.Transforms, group.TimestampTransform{Delay: d.GetDelayMillis()})
			} else if a := tt.GetAlignTo(); a != nil {
				g.Transforms = append(g.Transforms, group.TimestampTransform{Period: a.GetPeriod(), Offset: a.GetOffset()})
			}
		}
	case *pipepb.Trigger_AfterEndOfWindow_:
		g.Kind = group.TriggerAfterEndOfWindow
		for _, sub := range []*pipepb.Trigger{x.AfterEndOfWindow.GetEarlyFirings(), x.AfterEndOfWindow.GetLateFirings()} {
			if sub == nil {
				g.Subs = append(g.Subs, nil)
			} else {
				g.Subs = append(g.Subs, translateTrigger(sub))
			}
		}
		return g
	case *pipepb.Trigger_Repeat_:
		g.Kind, subs = group.TriggerRepeat, []*pipepb.Trigger{x.Repeat.GetSubtrigger()}
	case *pipepb.Trigger_OrFinally_:
		g.Kind, subs = group.TriggerOrFinally, []*pipepb.Trigger{x.OrFinally.GetMain(), x.OrFinally.GetFinally()}
	case *pipepb.Trigger_AfterAny_:
		g.Kind, subs = group.TriggerAfterAny, x.AfterAny.GetSubtriggers()
	case *pipepb.Trigger_AfterAll_:
		g.Kind, subs = group.TriggerAfterAll, x.AfterAll.GetSubtriggers()
	case *pipepb.Trigger_AfterEach_:
		g.Kind, subs = group.TriggerAfterEach, x.AfterEach.GetSubtriggers()
	}
	for _, sub := range subs {
		g.Subs = append(g.Subs, translateTrigger(sub))
	}
	return g
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

func (pl *planner) fuse() (*Plan, error) {
	topo := pipelinex.TopologicalSort(pl.ts, pl.leaves)

	producer := map[string]string{}  // PCollection -> leaf transform
	consumers := map[string][]link{} // PCollection -> leaf transforms reading it
	for _, tid := range topo {
		t := pl.ts[tid]
		for _, p := range t.GetOutputs() {
			producer[p] = tid
		}
		for _, local := range sortedKeys(t.GetInputs()) {
			p := t.GetInputs()[local]
			consumers[p] = append(consumers[p], link{tid, local})
		}
	}

	out := &Plan{
		Consumers:      map[string][]string{},
		Producers:      map[string]string{},
		TransformNames: pl.names,
	}
	for _, pc := range pl.comps.GetPcollections() {
		if pc.GetIsBounded() == pipepb.IsBounded_UNBOUNDED {
			out.Unbounded = true
		}
	}

	stageOf := map[string]*Stage{}      // SDK and Impulse transforms -> stage
	rootStageFor := map[string]*Stage{} // runner-produced PCollection -> stage reading it
	newStage := func(kind Kind) *Stage {
		s := &Stage{ID: fmt.Sprintf("stage-%03d", len(out.Stages)), Kind: kind, Sinks: map[string]string{}, DoFns: map[string]string{}}
		out.Stages = append(out.Stages, s)
		return s
	}
	for _, tid := range topo {
		t := pl.ts[tid]
		urn := t.GetSpec().GetUrn()
		if pl.runnerSide[tid] {
			switch {
			case urn == URNImpulse:
				s := newStage(KindImpulse)
				s.Transforms, s.Names = []string{tid}, []string{t.GetUniqueName()}
				stageOf[tid] = s
			case pl.kafka[tid] != nil:
				s := newStage(KindKafka)
				s.Transforms, s.Names = []string{tid}, []string{t.GetUniqueName()}
				s.Kafka = pl.kafka[tid]
				stageOf[tid] = s
			case pl.tests[tid] != nil:
				s := newStage(KindTestStream)
				s.Transforms, s.Names = []string{tid}, []string{t.GetUniqueName()}
				s.TestStream = pl.tests[tid]
				stageOf[tid] = s
			case pl.groups[tid] != nil:
				s := newStage(KindGroup)
				s.Transforms, s.Names = []string{tid}, []string{t.GetUniqueName()}
				s.Input = pl.mainInput(tid)
				s.Group = pl.groups[tid]
				stageOf[tid] = s
			}
			continue // Flattens are resolved below.
		}
		main := pl.mainInput(tid)
		prod, ok := producer[main]
		var s *Stage
		switch {
		case pl.forced[tid], ok && pl.encodedTail(producer, main) && !(urn == URNWindowInto && pl.encodable[prod]):
			// Forced roots; and what reads the outputs of an EncodedDoFn
			// (but the WindowInto right after it) starts a stage, so that
			// the DoFn's stage runs on the encoded path.
			s = newStage(KindSDK)
			s.Input = main
		case ok && !pl.runnerSide[prod]:
			s = stageOf[prod]
		default:
			// Read from the runner: share a stage with other readers of the
			// same PCollection, unless that stage is a forced root.
			if r := rootStageFor[main]; r != nil && !r.Splittable {
				s = r
			} else {
				s = newStage(KindSDK)
				s.Input = main
				rootStageFor[main] = s
			}
		}
		if pl.splittable[tid] {
			s.Splittable = true
		}
		if pl.stateful[tid] {
			s.Stateful = true
			s.Timers = append(s.Timers, pl.timers[tid]...)
			ws := pl.comps.GetWindowingStrategies()[pl.comps.GetPcollections()[main].GetWindowingStrategyId()]
			wc, err := graphx.NewCoderUnmarshaller(pl.comps.GetCoders()).WindowCoder(ws.GetWindowCoderId())
			if err != nil {
				return nil, fmt.Errorf("localrunner: transform %q: the window coder of its input: %w", pl.names[tid], err)
			}
			s.StateWindow, s.StateAllowedLateness = wc, ws.GetAllowedLateness()
			c, err := pl.windowedCoder(main)
			if err != nil {
				return nil, fmt.Errorf("localrunner: transform %q: the coder of its input: %w", pl.names[tid], err)
			}
			if kv := coder.SkipW(c); coder.IsKV(kv) {
				s.StateKey = kv.Components[0]
			}
		}
		s.Transforms = append(s.Transforms, tid)
		s.Names = append(s.Names, t.GetUniqueName())
		stageOf[tid] = s
	}

	// Outputs: PCollections read by a transform outside the producing stage
	// (a Flatten counts as outside).
	for _, s := range out.Stages {
		for _, tid := range s.Transforms {
			for _, p := range sortedValues(pl.ts[tid].GetOutputs()) {
				for _, c := range consumers[p] {
					if stageOf[c.transform] != s {
						if !slices.Contains(s.Outputs, p) {
							s.Outputs = append(s.Outputs, p)
						}
						out.Producers[p] = s.ID
						break
					}
				}
			}
		}
	}

	// Consumers, resolving Flattens.
	var readers func(p string, from *Stage) []string
	readers = func(p string, from *Stage) []string {
		var ids []string
		direct := map[*Stage]bool{} // a stage reads its input once, however many of its transforms consume it
		for _, c := range consumers[p] {
			if pl.isFlatten(c.transform) { // once per listing
				for _, fo := range sortedValues(pl.ts[c.transform].GetOutputs()) {
					ids = append(ids, readers(fo, nil)...)
				}
				continue
			}
			if _, side := pl.sides[c.transform][c.local]; side {
				continue // served as a side input, not queued
			}
			if s := stageOf[c.transform]; s != from && s.Input == p && !direct[s] {
				direct[s] = true
				ids = append(ids, s.ID)
			}
		}
		return ids
	}
	for p, sid := range out.Producers {
		out.Consumers[p] = readers(p, out.Stage(sid))
	}

	// Upstream of each stage, through Flattens.
	var upstream func(p string, seen map[string]bool) []string
	upstream = func(p string, seen map[string]bool) []string {
		if seen[p] {
			return nil
		}
		seen[p] = true
		prod, ok := producer[p]
		if !ok || !pl.isFlatten(prod) {
			return []string{p}
		}
		var ps []string
		for _, in := range sortedValues(pl.ts[prod].GetInputs()) {
			ps = append(ps, upstream(in, seen)...)
		}
		return ps
	}
	for _, s := range out.Stages {
		if s.Kind == KindSDK || s.Kind == KindGroup {
			s.Upstream = upstream(s.Input, map[string]bool{})
		}
		for _, tid := range s.Transforms {
			for _, local := range sortedKeys(pl.sides[tid]) {
				p := pl.ts[tid].GetInputs()[local]
				c, err := pl.windowedCoder(p)
				if err != nil {
					return nil, fmt.Errorf("localrunner: side input %s of %q: %w", local, pl.names[tid], err)
				}
				s.SideInputs = append(s.SideInputs, &SideInput{
					Transform:   tid,
					Local:       local,
					PCollection: p,
					Sources:     upstream(p, map[string]bool{}),
					Multimap:    pl.sides[tid][local].GetAccessPattern().GetUrn() == graphx.URNMultimapSideInput,
					Coder:       c,
				})
			}
		}
	}

	for _, s := range out.Stages {
		if s.Kind != KindSDK {
			continue
		}
		if err := pl.describe(s); err != nil {
			return nil, fmt.Errorf("localrunner: building the bundle descriptor of %s %v: %w", s.ID, s.Names, err)
		}
		if pl.opts.EncodedDoFns {
			s.Encoded = pl.encoded(s)
		}
	}
	return out, nil
}

// windowedCoder returns the windowed-value coder of a PCollection's
// elements, as the SDK would build it.
func (pl *planner) windowedCoder(pcol string) (*coder.Coder, error) {
	pc, ok := pl.comps.GetPcollections()[pcol]
	if !ok {
		return nil, fmt.Errorf("unknown PCollection %q", pcol)
	}
	ws, ok := pl.comps.GetWindowingStrategies()[pc.GetWindowingStrategyId()]
	if !ok {
		return nil, fmt.Errorf("PCollection %q has no windowing strategy", pcol)
	}
	cu := graphx.NewCoderUnmarshaller(pl.comps.GetCoders())
	ec, err := cu.Coder(pc.GetCoderId())
	if err != nil {
		return nil, err
	}
	wc, err := cu.WindowCoder(ws.GetWindowCoderId())
	if err != nil {
		return nil, err
	}
	return coder.NewW(ec, wc), nil
}

func sortedValues(m map[string]string) []string {
	vs := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		vs = append(vs, m[k])
	}
	return vs
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

// nativeKafka finds each kafka.Read (Impulse -> listing DoFn -> reading
// SDF, each PCollection read by the next step only) with a consumer group
// and a global-window output, and marks it for a KindKafka stage: the
// reading transform becomes a runner-side leaf producing the read's
// output, and the Impulse and the listing DoFn are skipped.
func (pl *planner) nativeKafka() {
	producer := map[string]string{}
	readers := map[string]int{}
	for id, t := range pl.ts {
		if len(t.GetSubtransforms()) > 0 || pl.skip[id] {
			continue
		}
		for _, p := range t.GetOutputs() {
			producer[p] = id
		}
		for _, p := range t.GetInputs() {
			readers[p]++
		}
	}
	single := func(t *pipepb.PTransform) (in, out string, ok bool) {
		if len(t.GetInputs()) != 1 || len(t.GetOutputs()) != 1 {
			return "", "", false
		}
		for _, p := range t.GetInputs() {
			in = p
		}
		for _, p := range t.GetOutputs() {
			out = p
		}
		return in, out, true
	}
	for _, rid := range sortedKeys(pl.ts) {
		rt := pl.ts[rid]
		if pl.skip[rid] || len(rt.GetSubtransforms()) > 0 || rt.GetSpec().GetUrn() != URNParDo {
			continue
		}
		parts, out, ok := single(rt)
		if !ok || readers[parts] != 1 {
			continue
		}
		lid := producer[parts]
		lt := pl.ts[lid]
		if lt.GetSpec().GetUrn() != URNParDo {
			continue
		}
		imp, _, ok := single(lt)
		if !ok || readers[imp] != 1 || pl.ts[producer[imp]].GetSpec().GetUrn() != URNImpulse {
			continue
		}
		rfn, lfn := DecodeDoFn(rt), DecodeDoFn(lt)
		if rfn == nil || lfn == nil {
			continue
		}
		cfg, ok := kafka.ReadTransformConfig(lfn.Recv, rfn.Recv)
		if !ok || cfg.Group == "" {
			continue // without a group there is nothing to join: the SDF runs
		}
		wc, err := pl.windowedCoder(out)
		if err != nil || wc.Window == nil || wc.Window.Kind != coder.GlobalWindow {
			continue
		}
		pl.kafka[rid] = &KafkaRead{Config: cfg, Output: out, Coder: wc}
		pl.skip[lid] = true
		pl.skip[producer[imp]] = true
	}
}

// String describes the plan, one stage after another, deterministically:
// what the golden planner tests compare.
func (p *Plan) String() string {
	var b strings.Builder
	for _, s := range p.Stages {
		kind := "sdk"
		switch {
		case s.Kind == KindImpulse:
			kind = "impulse"
		case s.Kind == KindKafka:
			kind = "kafka"
		case s.Kind == KindTestStream:
			kind = "teststream"
		case s.Kind == KindGroup:
			kind = "group"
		case s.Splittable:
			kind = "sdk, splittable"
		case s.Stateful:
			kind = "sdk, stateful"
		}
		fmt.Fprintf(&b, "%s (%s)\n", s.ID, kind)
		if s.Input != "" {
			fmt.Fprintf(&b, "  input %s from %v\n", s.Input, s.Upstream)
		}
		for _, n := range s.Names {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
		for _, si := range s.SideInputs {
			access := "iterable"
			if si.Multimap {
				access = "multimap"
			}
			fmt.Fprintf(&b, "  side input %s of %q: %s (%s) from %v\n", si.Local, p.TransformNames[si.Transform], si.PCollection, access, si.Sources)
		}
		for _, o := range s.Outputs {
			fmt.Fprintf(&b, "  output %s -> %v\n", o, p.Consumers[o])
		}
	}
	return b.String()
}
