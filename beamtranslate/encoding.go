package beamtranslate

import (
	"errors"
	"fmt"

	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/dsl"
)

// EncoderBinding is the deployment config's say on a Serializer step:
// the codec of the stream it writes (the codec of the Kafka sink it
// feeds). A zero field keeps what the step's code says. It travels in
// the DoFn, so a worker process that rebuilt the pipeline from its code
// encodes as the config says.
type EncoderBinding struct {
	Codec string `json:",omitempty"` // "json", "msgpack" or "protobuf"
}

// Apply returns Serializer step n remade as b says (dsl.Node.WithEncoding).
func (b EncoderBinding) Apply(n *dsl.Node) (*dsl.Node, error) {
	var c dsl.Codec
	if b.Codec != "" {
		var err error
		if c, err = dsl.ParseCodec(b.Codec); err != nil {
			return nil, fmt.Errorf("step %s: %w", n.Name(), err)
		}
	}
	return n.WithEncoding(c)
}

// EncoderBindings applies the codec of each Kafka sink step of g (its
// values, by step name, have codec) to the Serializer that feeds it: the
// first step that encodes, going up from the sink through steps with one
// input each. A codec on a sink no Serializer feeds, two sinks that ask
// one Serializer for different codecs, and a codec the Serializer cannot
// take (its code sets another; protobuf for a payload that is not a
// proto.Message) are errors naming the sink step. Each binding is
// checked here, so that the problem stops the start, not a worker.
func EncoderBindings(g *dsl.Graph, values map[string]component.Values) (map[string]EncoderBinding, error) {
	var out map[string]EncoderBinding
	by := map[string]string{} // serializer -> the sink whose codec it has
	var errs []error
	for _, sink := range g.Sinks() {
		codec := values[sink.Name()].Str("codec")
		if sink.SinkKind() != Kafka.Kind || codec == "" {
			continue
		}
		ser := feedingSerializer(g, sink)
		if ser == nil {
			errs = append(errs, fmt.Errorf("sink step %s: codec applies to the Serializer that feeds the sink, and none does (through steps with one input each)", sink.Name()))
			continue
		}
		b := EncoderBinding{Codec: codec}
		if prev, ok := by[ser.Name()]; ok {
			if out[ser.Name()] != b {
				errs = append(errs, fmt.Errorf("sink step %s: codec %s, but Serializer %s also feeds sink step %s, whose codec is %s", sink.Name(), codec, ser.Name(), prev, out[ser.Name()].Codec))
			}
			continue
		}
		if _, err := b.Apply(ser); err != nil {
			errs = append(errs, fmt.Errorf("sink step %s: codec: %w", sink.Name(), err))
			continue
		}
		if out == nil {
			out = map[string]EncoderBinding{}
		}
		out[ser.Name()], by[ser.Name()] = b, sink.Name()
	}
	return out, errors.Join(errs...)
}

// feedingSerializer returns the Serializer that feeds sink, or nil.
func feedingSerializer(g *dsl.Graph, sink *dsl.Node) *dsl.Node {
	for n := sink; len(n.Inputs()) == 1; {
		n = g.Node(n.Inputs()[0])
		if n.Encodes() {
			return n
		}
	}
	return nil
}
