package plan

import (
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	v1pb "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx/v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/protox"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"google.golang.org/protobuf/proto"
)

// liftCombine replaces a CombinePerKey composite (a GroupByKey, then the
// SDK's combine of each key's values) by a combining GroupByKey, which adds
// each value to its key and window's accumulator as it arrives, and the
// CombineFn's ExtractOutput in the SDK:
//
//	KV<K, I> -> <name>/GroupAndCombine -> KV<K, A> -> <name>/ExtractOutput -> KV<K, O>
//
// A GroupByKey then holds one accumulator per key and window instead of
// every value. Unlike prism's and Dataflow's lifting there is no precombine
// in the stage before: the runner's accumulators live as long as their
// windows, which a precombine per bundle would barely shrink, and the
// runner sees the elements themselves (AfterCount counts them, lateness
// judges them). A composite whose CombineFn is not a Go one the SDK can
// decode here runs as its expansion.
func (pl *planner) liftCombine(id string, t *pipepb.PTransform) {
	if len(t.GetInputs()) != 1 || len(t.GetOutputs()) != 1 {
		return
	}
	var cmb pipepb.CombinePayload
	if err := proto.Unmarshal(t.GetSpec().GetPayload(), &cmb); err != nil {
		return
	}
	payload := string(cmb.GetCombineFn().GetPayload())
	if _, err := DecodeCombineFn(payload); err != nil {
		return
	}
	cu := graphx.NewCoderUnmarshaller(pl.comps.GetCoders())
	acc, err := cu.Coder(cmb.GetAccumulatorCoderId())
	if err != nil {
		return
	}
	var in, out string
	for _, p := range t.GetInputs() {
		in = p
	}
	for _, p := range t.GetOutputs() {
		out = p
	}
	inPC := pl.comps.GetPcollections()[in]
	kv := pl.comps.GetCoders()[inPC.GetCoderId()]
	if kv.GetSpec().GetUrn() != urnCoderKV || len(kv.GetComponentCoderIds()) != 2 {
		return
	}

	kvAcc := "lr:kv:" + kv.GetComponentCoderIds()[0] + ":" + cmb.GetAccumulatorCoderId()
	pl.comps.Coders[kvAcc] = &pipepb.Coder{
		Spec:              &pipepb.FunctionSpec{Urn: urnCoderKV},
		ComponentCoderIds: []string{kv.GetComponentCoderIds()[0], cmb.GetAccumulatorCoderId()},
	}
	accs := "lr:" + id + ":accumulators"
	if pl.comps.Pcollections == nil {
		pl.comps.Pcollections = map[string]*pipepb.PCollection{}
	}
	pl.comps.Pcollections[accs] = &pipepb.PCollection{
		UniqueName:          t.GetUniqueName() + "/accumulators",
		CoderId:             kvAcc,
		IsBounded:           inPC.GetIsBounded(),
		WindowingStrategyId: inPC.GetWindowingStrategyId(),
	}
	pl.skipSubtree(id)
	add := func(tid, name string, spec *pipepb.FunctionSpec, from, to, env string) {
		pl.ts[tid] = &pipepb.PTransform{
			UniqueName:    t.GetUniqueName() + "/" + name,
			Spec:          spec,
			Inputs:        map[string]string{"i0": from},
			Outputs:       map[string]string{"i0": to},
			EnvironmentId: env,
		}
		pl.names[tid] = pl.ts[tid].GetUniqueName()
		pl.parent[tid] = id
	}
	group, extract := "lr:"+id+":group", "lr:"+id+":extract"
	add(group, "GroupAndCombine", &pipepb.FunctionSpec{Urn: URNGroupByKey}, in, accs, "")
	add(extract, "ExtractOutput", &pipepb.FunctionSpec{Urn: URNCombineExtract, Payload: t.GetSpec().GetPayload()}, accs, out, t.GetEnvironmentId())
	pl.combines[group] = &Combine{Name: t.GetUniqueName(), Payload: payload, Accumulator: acc}
}

// DecodeCombineFn decodes a Go CombineFn as a CombinePayload carries it
// (its receiver rebuilt from the serialised fields).
func DecodeCombineFn(payload string) (fn *graph.CombineFn, err error) {
	defer func() {
		if r := recover(); r != nil {
			fn, err = nil, fmt.Errorf("decoding a CombineFn: %v", r)
		}
	}()
	var tp v1pb.TransformPayload
	if err := protox.DecodeBase64(payload, &tp); err != nil {
		return nil, err
	}
	if tp.GetUrn() != graphx.URNDoFn {
		return nil, fmt.Errorf("a CombineFn payload of kind %q", tp.GetUrn())
	}
	op, f, _, _, _, err := graphx.DecodeMultiEdge(tp.GetEdge())
	if err != nil {
		return nil, err
	}
	if op != graph.Combine {
		return nil, fmt.Errorf("a CombineFn payload holding a %v", op)
	}
	return graph.AsCombineFn(f)
}
