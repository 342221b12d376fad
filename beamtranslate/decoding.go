package beamtranslate

import (
	"fmt"
	"maps"
	"slices"

	"github.com/streams-dev/streams/dsl"
)

// DecoderBinding is the deployment config's say on a Parser or
// BatchParser step: the codec and JSON Schema of the source stream (its
// codec and schema_dir). A zero field keeps what the step's code says.
// It travels in the DoFn (the schema as text), so a worker process that
// rebuilt the pipeline from its code decodes as the config says.
type DecoderBinding struct {
	Codec  string `json:",omitempty"` // "json", "msgpack" or "protobuf"
	Schema string `json:",omitempty"` // the JSON Schema document
}

// Apply returns parser step n remade as b says (dsl.Node.WithDecoding).
func (b DecoderBinding) Apply(n *dsl.Node) (*dsl.Node, error) {
	var c dsl.Codec
	if b.Codec != "" {
		var err error
		if c, err = dsl.ParseCodec(b.Codec); err != nil {
			return nil, fmt.Errorf("step %s: %w", n.Name(), err)
		}
	}
	var schema []byte
	if b.Schema != "" {
		schema = []byte(b.Schema)
	}
	return n.WithDecoding(c, schema)
}

// checkDecoders makes every parser the bindings name as they say, so
// that a binding the step cannot take fails the translation, not a
// worker's Setup.
func (t *translator) checkDecoders() error {
	for _, step := range slices.Sorted(maps.Keys(t.b.Decoders)) {
		n := t.g.Node(step)
		if n == nil {
			return fmt.Errorf("beamtranslate: decoder binding for step %q, which the pipeline does not have", step)
		}
		if _, err := t.b.Decoders[step].Apply(n); err != nil {
			return fmt.Errorf("beamtranslate: %w", err)
		}
	}
	return nil
}

// decoders are the bindings of the parsers among steps, or nil.
func (t *translator) decoders(steps []string) map[string]DecoderBinding {
	var out map[string]DecoderBinding
	for _, s := range steps {
		if b, ok := t.b.Decoders[s]; ok {
			if out == nil {
				out = map[string]DecoderBinding{}
			}
			out[s] = b
		}
	}
	return out
}
