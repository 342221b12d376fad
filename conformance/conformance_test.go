package conformance_test

import (
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/streams-dev/streams/conformance"
)

// TestMain initialises Beam (after every DoFn is registered, in init) as a
// pipeline program's main does.
func TestMain(m *testing.M) { ptest.Main(m) }

func TestConformance(t *testing.T) {
	for _, r := range conformance.Runners {
		for _, c := range conformance.Cases() {
			t.Run(r+"/"+c.Name, func(t *testing.T) {
				conformance.Run(t, r, c)
			})
		}
	}
}
