package conformance_test

import (
	"flag"
	"os"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/streams-dev/streams/conformance"
)

// TestMain initialises Beam (after every DoFn is registered, in init) as a
// pipeline program's main does; in a pipeline process started by
// conformance.Run it runs that pipeline instead of the tests.
func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	conformance.MaybeChild()
	os.Exit(m.Run())
}

func TestConformance(t *testing.T) {
	for _, r := range conformance.Runners {
		for _, c := range conformance.Cases() {
			t.Run(r+"/"+c.Name, func(t *testing.T) {
				t.Parallel()
				conformance.Run(t, r, c)
			})
		}
	}
}
