package runner

import (
	"fmt"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

// Components returns the sink components a runner runs: Kafka's,
// devnull and blob. This list is the one place a sink is added: its spec
// gives the config its kind and keys (ConfigOption, which main hands to
// config.Load), its docs, and the checks of its values; its Translate
// gives its Beam transforms.
func Components() []beamtranslate.Sink {
	return beamtranslate.BuiltinSinks()
}

// ConfigOption makes config.Parse and config.Load take the keys of
// Components' sinks.
func ConfigOption() config.Option { return config.WithComponents(componentSpecs()...) }

func componentSpecs() []component.Spec {
	var out []component.Spec
	for _, c := range Components() {
		out = append(out, c.Spec)
	}
	return out
}

// componentOf returns the component of sink step n, if it has one.
func componentOf(n *dsl.Node) (beamtranslate.Sink, bool) {
	if n.Kind() != dsl.KindSink {
		return beamtranslate.Sink{}, false
	}
	for _, c := range Components() {
		if c.Kind == n.SinkKind() {
			return c, true
		}
	}
	return beamtranslate.Sink{}, false
}

// componentValues returns the deployment config's values of each
// component sink step, by step name, after the component's Check: an
// error names the step.
func componentValues(g *dsl.Graph, seg *config.Segment) (map[string]component.Values, error) {
	out := map[string]component.Values{}
	for _, n := range g.Sinks() {
		c, ok := componentOf(n)
		if !ok {
			continue
		}
		sc := seg.Step(n.Name(), config.StepKind(c.Spec.Kind))
		v := sc.ValuesOf(c.Spec)
		if c.Check != nil {
			if err := c.Check(n, v); err != nil {
				return nil, fmt.Errorf("runner: %s sink step %s: %w", c.Spec.Label, n.Name(), err)
			}
		}
		out[n.Name()] = v
	}
	return out, nil
}

// withComponents returns c, or, when c has no components (a config built
// in Go, or parsed without ConfigOption, which has refused their keys
// already), a copy of c that takes the kinds of Components' sinks.
func withComponents(c *config.Config) *config.Config {
	if c.Components != nil {
		return c
	}
	cc := *c
	cc.Components = componentSpecs()
	return &cc
}
