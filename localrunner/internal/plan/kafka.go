package plan

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/streams-dev/streams/io/kafka"
)

// KafkaRead is a kafka.Read the runner executes natively.
type KafkaRead struct {
	// Config is the read's configuration, decoded from its DoFns.
	Config kafka.ReadConfig
	// Output is the PCollection of kafka.Record the read produces, and
	// Coder its windowed-value coder (global window).
	Output string
	Coder  *coder.Coder
	// Shuffle is set on the read of a GroupByKey's internal topic
	// (package shuffle): its records are encoded elements of Output,
	// written by a KindShuffleWrite stage, with control records between
	// them; Output's elements are those elements.
	Shuffle bool
	// Segment is the segment of an internal read (segment.go), and
	// StartsSegment is set on the read of a segment's topic, which starts
	// the segment.
	Segment       int
	StartsSegment bool
	// Origin, on an internal read, is the pipeline's source read whose
	// consumer group names the internal topics, and whose topics size
	// them by default.
	Origin *KafkaRead
}

// Root is the pipeline's source read behind r: r itself, or its Origin.
func (r *KafkaRead) Root() *KafkaRead {
	if r.Origin != nil {
		return r.Origin
	}
	return r
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
