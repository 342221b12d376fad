package plan

import (
	"fmt"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/pipelinex"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
)

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
			case pl.writes[tid] != nil:
				s := newStage(KindKafkaWrite)
				s.Transforms, s.Names = []string{tid}, []string{t.GetUniqueName()}
				s.Input = pl.mainInput(tid)
				s.KafkaWrite = pl.writes[tid]
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
				s.PartitionKeyed = pl.partitionKeyed(tid)
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
			s.PartitionKeyed = pl.partitionKeyed(tid)
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

	for _, s := range out.Stages {
		if s.Kind == KindSDK {
			pl.eventTimes(s, stageOf, consumers)
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
		if s.Kind == KindSDK || s.Kind == KindGroup || s.Kind == KindKafkaWrite {
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
