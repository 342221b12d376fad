package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

// decoderBindings applies the source's codec and schema_dir to every
// Parser and BatchParser of g: the topic decides how its payloads
// decode. The schema is the file <stream>.json in schema_dir, named
// after the stream the code reads, as sentry-kafka-schemas keys a
// schema by the logical stream; it is read and compiled here, once, so
// a missing or invalid one stops the start with its place. Either key
// without a parser to apply it to is an error: it would be ignored.
func decoderBindings(g *dsl.Graph, sc config.StepConfig) (map[string]beamtranslate.DecoderBinding, error) {
	if sc.Codec == "" && sc.SchemaDir == "" {
		return nil, nil
	}
	src := g.Source()
	var parsers []*dsl.Node
	for _, n := range g.Nodes() {
		if n.Decodes() {
			parsers = append(parsers, n)
		}
	}
	if len(parsers) == 0 {
		return nil, fmt.Errorf("runner: source step %s: codec and schema_dir apply to Parser and BatchParser steps, and the pipeline has none", src.Name())
	}
	b := beamtranslate.DecoderBinding{Codec: sc.Codec}
	where := ""
	if sc.SchemaDir != "" {
		where = filepath.Join(sc.SchemaDir, src.StreamName()+".json")
		schema, err := os.ReadFile(where)
		if err != nil {
			return nil, fmt.Errorf("runner: source step %s: schema_dir: the JSON Schema of stream %q: %w", src.Name(), src.StreamName(), err)
		}
		b.Schema = string(schema)
	}
	out := make(map[string]beamtranslate.DecoderBinding, len(parsers))
	var errs []error
	for _, n := range parsers {
		if _, err := b.Apply(n); err != nil {
			if where != "" {
				err = fmt.Errorf("%w (schema %s)", err, where)
			}
			errs = append(errs, fmt.Errorf("runner: source step %s: codec and schema_dir: %w", src.Name(), err))
			continue
		}
		out[n.Name()] = b
	}
	return out, errors.Join(errs...)
}
