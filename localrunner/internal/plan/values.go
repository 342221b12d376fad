package plan

import "github.com/streams-dev/streams/internal/contract"

// markValues marks the outputs of encoded stages whose only reader is a
// combining GroupByKey with a CombineFn that adds Go values
// (contract.ValueCombineFn) and the default trigger: their DoFn may hand
// the KVs over as values instead of encoding them
// (EncodedOutput.Values), and the GroupByKey adds each to its
// accumulator without decoding it. It runs last, once shuffles and
// segments have taken their places between stages: an output read back
// from an internal topic is written encoded.
func (p *Plan) markValues() {
	adds := map[string]bool{} // payload -> its CombineFn adds values
	for _, s := range p.Stages {
		if s.Encoded == nil {
			continue
		}
		for i := range s.Encoded.Outputs {
			o := &s.Encoded.Outputs[i]
			if o.PCollection == "" || len(p.Consumers[o.PCollection]) != 1 {
				continue
			}
			g := p.Stage(p.Consumers[o.PCollection][0])
			o.Values = g != nil && g.Kind == KindGroup && g.Group.Combine != nil &&
				g.Group.Strategy.Trigger == nil && addsValues(adds, g.Group.Combine.Payload)
		}
	}
}

// addsValues reports whether the CombineFn serialised in payload is a
// contract.ValueCombineFn, remembering the answer in seen.
func addsValues(seen map[string]bool, payload string) bool {
	ok, known := seen[payload]
	if !known {
		fn, err := DecodeCombineFn(payload)
		if err == nil {
			_, ok = fn.Recv.(contract.ValueCombineFn)
		}
		seen[payload] = ok
	}
	return ok
}
