package localrunner_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/test/integration/primitives"
	"github.com/streams-dev/streams/localrunner"
)

// TestProcessingTimersInFakeTime runs Beam's processing-time timer
// pipeline (40 keys, each timer firing five times: 3 s, then 1 s apart)
// in a synctest bubble: the engine's clock and wake-ups are the bubble's
// fake time, so the 7 seconds the pipeline waits pass at once, and a
// timer fired early or late would show in the fake elapsed time.
func TestProcessingTimersInFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, s := beam.NewPipelineWithRoot()
		primitives.TimersProcessingTime_Bounded(s)
		r, err := localrunner.New()
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := r.Run(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		// First fire at 3 s, four more 1 s apart: 7 s of fake time.
		if d := time.Since(start); d < 7*time.Second || d > 7*time.Second+500*time.Millisecond {
			t.Errorf("the pipeline took %v of fake time, want 7s", d)
		}
	})
}
