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
//
// # Files
//
// plan.go (the Plan, its stages and Build), classify.go (what each
// transform is), refusals.go (what the engine cannot run), triggers.go,
// fuse.go (fusion into stages), descriptor.go (bundle descriptors),
// combine.go (lifted combines), sdf.go (SDF expansion), kafka.go (native
// Kafka reads), kafkawrite.go (native Kafka writes), encoded.go (stages
// for encoded DoFns), late.go and errors.go.
package plan

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
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
	// PartitionKeyed is set on a KindGroup or stateful stage whose
	// grouping key follows the partitioning of the Kafka source feeding it
	// (PartitionKeyedAnnotation): its state can be kept per source
	// partition.
	PartitionKeyed bool
	// EventTime is set on an SDK stage that gives elements event times
	// of its own, from their payloads.
	EventTime *EventTime
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
	// Shuffle describes the write of a KindShuffleWrite stage.
	Shuffle *Shuffle
	// KafkaWrite describes the write of a KindKafkaWrite stage.
	KafkaWrite *KafkaWrite
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

// Options of Build.
type Options struct {
	// NativeKafka substitutes a runner-side stage (KindKafka) for each
	// kafka.Read that has a consumer group and reads into the global
	// window, and one (KindKafkaWrite) for each kafka.Write that is not
	// transactional. Off, the read runs as the splittable DoFn it is, and
	// the write as its DoFn.
	NativeKafka bool
	// EncodedDoFns sets Stage.Encoded on the stages of that shape, so that
	// the worker may run their DoFn on encoded elements.
	EncodedDoFns bool
	// Shuffle routes the input of GroupByKeys whose key does not follow
	// their Kafka source's partitioning through internal topics
	// (insertShuffles), and what flows into a segment's first step
	// through the segment's (segment.go). It needs NativeKafka.
	Shuffle bool
	// Segment, with Shuffle, is the segment to run; -1 runs them all.
	Segment int
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
	writes     map[string]*KafkaWrite                  // writing ParDo -> native write
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
		writes:     map[string]*KafkaWrite{},
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
		pl.nativeKafkaWrites()
	}
	pl.classifyLeaves()
	if len(pl.errs) > 0 {
		return nil, errors.Join(pl.errs...)
	}
	var roots map[string]int
	if opts.Shuffle {
		roots = pl.segmentRoots()
	}
	out, err := pl.fuse()
	if err != nil {
		return nil, err
	}
	if opts.Shuffle {
		pl.insertSegments(out, roots)
		if len(pl.errs) > 0 {
			return nil, errors.Join(pl.errs...)
		}
		pl.insertShuffles(out)
		if opts.Segment >= 0 {
			if err := out.keepSegment(opts.Segment); err != nil {
				return nil, err
			}
		}
	}
	out.markValues()
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
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
		case s.Kind == KindKafka && s.Kafka.StartsSegment:
			kind = fmt.Sprintf("kafka, segment %d %s", s.Kafka.Segment, s.Kafka.Config.Topics[0])
		case s.Kind == KindKafka && s.Kafka.Shuffle:
			kind = "kafka, shuffle " + s.Kafka.Config.Topics[0]
		case s.Kind == KindKafka:
			kind = "kafka"
		case s.Kind == KindShuffleWrite:
			kind = "shuffle write " + s.Shuffle.Topic
		case s.Kind == KindKafkaWrite:
			kind = "kafka write"
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
