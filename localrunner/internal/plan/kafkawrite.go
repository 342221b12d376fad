package plan

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/streams-dev/streams/io/kafka"
)

// KindKafkaWrite stages are runner-side: a kafka.Write the runner
// executes with a producer of its own instead of running its DoFn (see
// Stage.KafkaWrite). The stage feeding it then ends at the write's input,
// so a chain whose DoFn emits records runs on the encoded path, and its
// bundles do not wait for the records' acknowledgements: the runner holds
// back the commits of their input until they come.
const KindKafkaWrite Kind = KindShuffleWrite + 1

// KafkaWrite is a kafka.Write the runner executes natively.
type KafkaWrite struct {
	// Config is the write's configuration, decoded from its DoFn.
	Config kafka.WriteConfig
	// Coder is the windowed-value coder of the records written.
	Coder *coder.Coder
}

// nativeKafkaWrites marks each kafka.Write (a ParDo of the write's DoFn
// with one input and no output) for a KindKafkaWrite stage. A
// transactional write stays a DoFn: it produces into the transactions of
// the exactly-once runs, whose cuts wait for its bundles.
func (pl *planner) nativeKafkaWrites() {
	for _, id := range sortedKeys(pl.ts) {
		t := pl.ts[id]
		if pl.skip[id] || len(t.GetSubtransforms()) > 0 || t.GetSpec().GetUrn() != URNParDo ||
			len(t.GetInputs()) != 1 || len(t.GetOutputs()) != 0 {
			continue
		}
		fn := DecodeDoFn(t)
		if fn == nil {
			continue
		}
		cfg, ok := kafka.WriteTransformConfig(fn.Recv)
		if !ok || cfg.Transactional {
			continue
		}
		c, err := pl.windowedCoder(pl.mainInput(id))
		if err != nil {
			continue
		}
		pl.writes[id] = &KafkaWrite{Config: cfg, Coder: c}
	}
}
