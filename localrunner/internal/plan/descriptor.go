package plan

import (
	"fmt"
	"maps"

	fnpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/fnexecution_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/protobuf/proto"
)

// describe builds the ProcessBundleDescriptor of an SDK stage: its
// transforms, one data source reading Input and one data sink per output,
// each port carrying a windowed-value coder (element coder plus the
// PCollection's window coder), as the SDK harness expects from any runner.
//
// The runner never decodes elements itself (it only reads the event time at
// the front of each windowed value), so unlike prism it does not need to
// length-prefix coders it does not know: both ends are the same SDK.
func (pl *planner) describe(s *Stage) error {
	coders := maps.Clone(pl.comps.GetCoders())
	transforms := map[string]*pipepb.PTransform{}
	pcols := map[string]*pipepb.PCollection{}
	addPCol := func(id string) error {
		pc, ok := pl.comps.GetPcollections()[id]
		if !ok {
			return fmt.Errorf("unknown PCollection %q", id)
		}
		pcols[id] = pc
		return nil
	}
	for _, tid := range s.Transforms {
		t := pl.ts[tid]
		transforms[tid] = t
		for _, p := range t.GetInputs() {
			if err := addPCol(p); err != nil {
				return err
			}
		}
		for _, p := range t.GetOutputs() {
			if err := addPCol(p); err != nil {
				return err
			}
		}
		switch t.GetSpec().GetUrn() {
		case URNParDo, URNProcessSized, URNPairWithRestriction, URNSplitAndSize:
			if n := doFnName(t); n != "" {
				s.DoFns[tid] = n
			}
		}
	}

	port := func(pcol string) ([]byte, error) {
		pc := pl.comps.GetPcollections()[pcol]
		ws, ok := pl.comps.GetWindowingStrategies()[pc.GetWindowingStrategyId()]
		if !ok {
			return nil, fmt.Errorf("PCollection %q has no windowing strategy", pcol)
		}
		id := "lr:wv:" + pc.GetCoderId() + ":" + ws.GetWindowCoderId()
		coders[id] = &pipepb.Coder{
			Spec:              &pipepb.FunctionSpec{Urn: urnCoderWindowedValue},
			ComponentCoderIds: []string{pc.GetCoderId(), ws.GetWindowCoderId()},
		}
		return proto.Marshal(&fnpb.RemoteGrpcPort{CoderId: id})
	}

	if err := addPCol(s.Input); err != nil {
		return err
	}
	src, err := port(s.Input)
	if err != nil {
		return err
	}
	s.SourceID = s.ID + "/source"
	transforms[s.SourceID] = &pipepb.PTransform{
		UniqueName: s.SourceID,
		Spec:       &pipepb.FunctionSpec{Urn: URNDataSource, Payload: src},
		Outputs:    map[string]string{"i0": s.Input},
	}
	for _, out := range s.Outputs {
		sink, err := port(out)
		if err != nil {
			return err
		}
		id := s.ID + "/sink/" + out
		transforms[id] = &pipepb.PTransform{
			UniqueName: id,
			Spec:       &pipepb.FunctionSpec{Urn: URNDataSink, Payload: sink},
			Inputs:     map[string]string{"i0": out},
		}
		s.Sinks[id] = out
	}
	s.Descriptor = &fnpb.ProcessBundleDescriptor{
		Id:                  s.ID,
		Transforms:          transforms,
		Pcollections:        pcols,
		WindowingStrategies: pl.comps.GetWindowingStrategies(),
		Coders:              coders,
	}
	return nil
}
