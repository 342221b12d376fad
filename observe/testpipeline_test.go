package observe

import (
	"testing"

	"github.com/streams-dev/streams/dsl"
)

// event is the payload of the test pipeline.
type event struct {
	Type    string `json:"type"`
	Project int    `json:"project_id"`
}

// testGraph is the pipeline the tests observe:
//
//	events-in ─ parse ─ route ─┬─ errors ─ serialize-errors ─ errors-out (topic errors)
//	                           └─ others ─ project ────────── discard (devnull)
func testGraph(t testing.TB) *dsl.Graph {
	t.Helper()
	g, err := dsl.StreamingSource("events-in", "events").
		Apply("parse", dsl.Parser[event]()).
		Route("route", func(e event) (string, error) {
			if e.Type == "error" {
				return "errors", nil
			}
			return "others", nil
		},
			dsl.Branch[event]("errors").
				Apply("serialize-errors", dsl.Serializer[event]()).
				Sink("errors-out", dsl.StreamSink("errors")),
			dsl.Branch[event]("others").
				Apply("project", dsl.Map(func(e event) (int, error) { return e.Project, nil })).
				Sink("discard", dsl.DevNullSink[int]()),
		).Build()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// testSteps are testGraph's steps, in the graph's order.
var testSteps = []string{"events-in", "parse", "route", "errors", "serialize-errors", "errors-out", "others", "project", "discard"}
