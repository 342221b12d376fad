package runner

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

// The components' specs go together, their keys are config keys, and the
// README's config section shows each of them.
func TestComponentsAreListedAndDocumented(t *testing.T) {
	specs := componentSpecs()
	if err := component.CheckSpecs(specs); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := config.Keys(specs...)
	for _, s := range specs {
		for _, k := range s.Keys {
			if !slices.Contains(keys, "pipeline.segments[].steps_config.<step>."+k.Name) {
				t.Errorf("%s: config.Keys lacks %s", s.Kind, k.Name)
			}
			if !strings.Contains(string(readme), "          "+k.Name+": ") {
				t.Errorf("%s: the README's config section does not show %s", s.Kind, k.Name)
			}
		}
	}
}

// A sink step's config kind is its component's; a sink kind no
// component implements is an invalid kind, which Validate reports.
func TestComponentKinds(t *testing.T) {
	g := dsl.StreamingSource("in", "events").
		Broadcast("copy",
			dsl.Branch[[]byte]("a").Sink("null", dsl.DevNullSink[[]byte]()),
			dsl.Branch[[]byte]("b").Sink("archive", dsl.BlobSink("b")),
			dsl.Branch[[]byte]("c").Sink("out", dsl.StreamSink("x"))).
		MustBuild()
	kinds := map[string]config.StepKind{}
	for _, st := range StepInfos(g) {
		kinds[st.Name] = st.Kind
	}
	if kinds["null"] != "devnull_sink" || kinds["archive"] != "blob_sink" || kinds["out"] != config.Sink {
		t.Errorf("kinds %v", kinds)
	}
	cfg := &config.Config{Pipeline: config.Pipeline{Segments: []config.Segment{{}}}}
	if err := withComponents(cfg).Validate(0, StepInfos(g)); err != nil {
		t.Errorf("a config built in Go: %v", err)
	}
	if cfg.Components != nil {
		t.Error("withComponents changed the config it was given")
	}
}
