package engine

import (
	"bytes"
	"fmt"
	"math"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// playTestStream plays the next event of a TestStream, once the run is
// quiet (nothing runs and nothing can start): elements go to the stages
// reading the stream, a watermark event moves its output watermark, a
// processing-time event the run's clock. After the last event the
// stream's watermark is the end of time. It reports whether it played one.
func (e *engine) playTestStream() bool {
	for _, s := range e.stages {
		if s.spec.Kind != plan.KindTestStream || s.testDone {
			continue
		}
		if s.testNext == len(s.spec.TestStream) {
			s.testWM, s.testDone = mtime.MaxTimestamp, true
			return true
		}
		ev := s.spec.TestStream[s.testNext]
		s.testNext++
		switch {
		case ev.Watermark != nil:
			s.testWM = max(s.testWM, *ev.Watermark)
		case ev.Advance > 0:
			end := mtime.MaxTimestamp.ToTime()
			if ev.Advance == math.MaxInt64 || e.clock.Add(ev.Advance).After(end) {
				e.clock = end
			} else {
				e.clock = e.clock.Add(ev.Advance)
			}
		case len(ev.Elements) > 0:
			data, ends, minTS, err := globalWindowed(ev.Elements)
			if err != nil {
				e.fail(fmt.Errorf("localrunner: TestStream %q: %w", s.spec.Names[0], err))
				return false
			}
			for _, p := range s.spec.Outputs {
				e.deliver(p, nil, data, ends, minTS, nil)
			}
		}
		return true
	}
	return false
}

// globalWindowed encodes elements as windowed values in the global
// window, not fired by a trigger: what an Impulse and a TestStream emit.
func globalWindowed(es []plan.TestStreamElement) (data []byte, ends []int, minTS mtime.Time, err error) {
	var b bytes.Buffer
	enc := exec.MakeWindowEncoder(coder.NewGlobalWindow())
	minTS = mtime.MaxTimestamp
	for _, el := range es {
		if err := exec.EncodeWindowedValueHeader(enc, window.SingleGlobalWindow, el.EventTime, typex.NoFiringPane(), &b); err != nil {
			return nil, nil, 0, err
		}
		b.Write(el.Encoded)
		ends = append(ends, b.Len())
		minTS = min(minTS, el.EventTime)
	}
	return b.Bytes(), ends, minTS, nil
}
