package beamtranslate

import (
	"fmt"
	"maps"
	"slices"

	"github.com/streams-dev/streams/dsl"
)

// binding is what the deployment config says of a step the code leaves
// open (a Parser's or a Serializer's codec): Apply returns the step as
// bound, or why it cannot be.
type binding interface {
	Apply(n *dsl.Node) (*dsl.Node, error)
}

// checkBindings applies each of bs (what: "decoder", "encoder") to its
// step, so that a binding the step cannot take fails the translation,
// not a worker's Setup.
func checkBindings[B binding](g *dsl.Graph, what string, bs map[string]B) error {
	for _, step := range slices.Sorted(maps.Keys(bs)) {
		n := g.Node(step)
		if n == nil {
			return fmt.Errorf("beamtranslate: %s binding for step %q, which the pipeline does not have", what, step)
		}
		if _, err := bs[step].Apply(n); err != nil {
			return fmt.Errorf("beamtranslate: %w", err)
		}
	}
	return nil
}

// bindingsOf returns the bindings of bs among steps, or nil.
func bindingsOf[B any](bs map[string]B, steps []string) map[string]B {
	var out map[string]B
	for _, s := range steps {
		if b, ok := bs[s]; ok {
			if out == nil {
				out = map[string]B{}
			}
			out[s] = b
		}
	}
	return out
}
