package plan

import (
	"maps"

	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
)

// expandSDF replaces the splittable ParDo tid by its three executable parts,
// all carrying the original ParDo payload:
//
//	main input                 element
//	  -> PairWithRestriction   KV<element, restriction>
//	  -> SplitAndSize          KV<KV<element, restriction>, size float64>
//	  -> ProcessSized          the ParDo's own outputs
//
// ProcessSized is a forced stage root, because the SDK only checkpoints an
// SDF that reads straight from the data source; the first two parts fuse
// with whatever produces the main input. ProcessSized keeps the ParDo's
// unique name, so errors and metrics name the user's transform. (Truncate,
// the drain step, is not used: the local runner does not drain yet.)
func (pl *planner) expandSDF(tid string, t *pipepb.PTransform, pardo *pipepb.ParDoPayload) {
	var mainLocal, mainPCol string
	for _, local := range sortedKeys(t.GetInputs()) {
		if _, side := pardo.GetSideInputs()[local]; !side {
			mainLocal, mainPCol = local, t.GetInputs()[local]
			break
		}
	}
	in := pl.comps.GetPcollections()[mainPCol]

	coders := pl.comps.GetCoders()
	kvER := "lr:" + tid + ":kv_elem_rest"
	size := "lr:" + tid + ":size"
	kvERS := "lr:" + tid + ":kv_elem_rest_size"
	coders[kvER] = &pipepb.Coder{Spec: &pipepb.FunctionSpec{Urn: urnCoderKV}, ComponentCoderIds: []string{in.GetCoderId(), pardo.GetRestrictionCoderId()}}
	coders[size] = &pipepb.Coder{Spec: &pipepb.FunctionSpec{Urn: urnCoderDouble}}
	coders[kvERS] = &pipepb.Coder{Spec: &pipepb.FunctionSpec{Urn: urnCoderKV}, ComponentCoderIds: []string{kvER, size}}

	pcol := func(id, coder string) string {
		pl.comps.GetPcollections()[id] = &pipepb.PCollection{
			UniqueName:          id,
			CoderId:             coder,
			IsBounded:           in.GetIsBounded(),
			WindowingStrategyId: in.GetWindowingStrategyId(),
		}
		return id
	}
	paired := pcol("lr:"+tid+":paired", kvER)
	sized := pcol("lr:"+tid+":sized", kvERS)

	part := func(id, name, urn, input string, outputs map[string]string) {
		inputs := maps.Clone(t.GetInputs())
		inputs[mainLocal] = input
		pl.ts[id] = &pipepb.PTransform{
			UniqueName:    name,
			Spec:          &pipepb.FunctionSpec{Urn: urn, Payload: t.GetSpec().GetPayload()},
			Inputs:        inputs,
			Outputs:       outputs,
			EnvironmentId: t.GetEnvironmentId(),
		}
		pl.names[id] = name
		pl.parent[id] = pl.parent[tid]
		pl.leaves = append(pl.leaves, id)
	}
	pwr, sas, psr := tid+"/pair", tid+"/split", tid+"/process"
	part(pwr, t.GetUniqueName()+"/PairWithRestriction", URNPairWithRestriction, mainPCol, map[string]string{"i0": paired})
	part(sas, t.GetUniqueName()+"/SplitAndSizeRestrictions", URNSplitAndSize, paired, map[string]string{"i0": sized})
	part(psr, t.GetUniqueName(), URNProcessSized, sized, maps.Clone(t.GetOutputs()))
	pl.forced[psr] = true
	pl.splittable[psr] = true
	// The original ParDo is not a leaf: the topological sort and the consumer
	// lists only see its parts.
}
