package beamtranslate

import (
	"fmt"

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
