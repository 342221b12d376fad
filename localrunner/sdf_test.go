package localrunner_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/periodic"
	"github.com/streams-dev/streams/localrunner"
)

// rangeFn emits 0..N-1, Step per call, element i at event time i seconds,
// advancing a manual watermark estimator to the last event time emitted and
// self-checkpointing with ResumeProcessingIn(Delay) between calls.
type rangeFn struct {
	N, Step int64
	Delay   time.Duration
}

func (f *rangeFn) CreateInitialRestriction(_ []byte) offsetrange.Restriction {
	return offsetrange.Restriction{Start: 0, End: f.N}
}

func (f *rangeFn) SplitRestriction(_ []byte, r offsetrange.Restriction) []offsetrange.Restriction {
	return []offsetrange.Restriction{r}
}

func (f *rangeFn) RestrictionSize(_ []byte, r offsetrange.Restriction) float64 { return r.Size() }

func (f *rangeFn) CreateTracker(r offsetrange.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(offsetrange.NewTracker(r))
}

func (f *rangeFn) InitialWatermarkEstimatorState(_ beam.EventTime, _ offsetrange.Restriction, _ []byte) int64 {
	return mtime.MinTimestamp.Milliseconds()
}

func (f *rangeFn) CreateWatermarkEstimator(ms int64) *sdf.ManualWatermarkEstimator {
	return &sdf.ManualWatermarkEstimator{State: mtime.FromMilliseconds(ms).ToTime()}
}

func (f *rangeFn) WatermarkEstimatorState(e *sdf.ManualWatermarkEstimator) int64 {
	return mtime.FromTime(e.State).Milliseconds()
}

func (f *rangeFn) ProcessElement(we *sdf.ManualWatermarkEstimator, rt *sdf.LockRTracker, _ []byte, emit func(beam.EventTime, int64)) sdf.ProcessContinuation {
	r := rt.GetRestriction().(offsetrange.Restriction)
	for i := r.Start; i < r.Start+f.Step; i++ {
		if !rt.TryClaim(i) {
			return sdf.StopProcessing()
		}
		emit(mtime.FromMilliseconds(i*1000), i)
		we.UpdateWatermark(time.UnixMilli(i * 1000))
	}
	if r.Start+f.Step >= r.End {
		return sdf.StopProcessing()
	}
	return sdf.ResumeProcessingIn(f.Delay)
}

func init() {
	register.DoFn4x1[*sdf.ManualWatermarkEstimator, *sdf.LockRTracker, []byte, func(beam.EventTime, int64), sdf.ProcessContinuation](&rangeFn{})
	register.Emitter2[beam.EventTime, int64]()
}

func TestSDFSelfCheckpoints(t *testing.T) {
	var residuals []localrunner.ResidualEvent
	var sdfStage string
	watermarks := map[string][]mtime.Time{}
	hooks := localrunner.Hooks{
		BundleDone: func(e localrunner.BundleEvent) {
			if len(e.Residuals) > 0 {
				sdfStage = e.Stage
			}
			residuals = append(residuals, e.Residuals...)
		},
		WatermarkAdvanced: func(e localrunner.WatermarkEvent) {
			watermarks[e.Stage] = append(watermarks[e.Stage], e.Watermark)
		},
	}
	prefix := t.Name() + "/"
	start := time.Now()
	_, err := runLocal(t, func(s beam.Scope, prefix string) {
		collect(s, prefix+"out", beam.ParDo(s, &rangeFn{N: 20, Step: 5, Delay: 20 * time.Millisecond}, beam.Impulse(s)))
	}, prefix, localrunner.WithHooks(hooks))
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)

	got := takeRecords(prefix + "out")
	var want []string
	for i := range 20 {
		want = append(want, strconv.Itoa(i))
	}
	slices.Sort(want)
	if !slices.Equal(values(got), want) {
		t.Errorf("got %v, want each of 0..19 once", values(got))
	}
	for _, r := range got {
		if v, _ := strconv.Atoi(r.Value); r.Time != mtime.FromMilliseconds(int64(v)*1000) {
			t.Errorf("%v: want event time %ds", r, v)
		}
	}
	// Three checkpoints (after 4, 9 and 14), each rescheduled after its delay
	// and reporting the estimator's watermark.
	if len(residuals) != 3 {
		t.Fatalf("%d residuals, want 3: %+v", len(residuals), residuals)
	}
	for i, r := range residuals {
		if want := mtime.FromMilliseconds(int64(5*i+4) * 1000); !r.Reported || r.Watermark != want || r.Delay != 20*time.Millisecond {
			t.Errorf("residual %d: %+v, want watermark %v reported, delay 20ms", i, r, want)
		}
	}
	if elapsed < 60*time.Millisecond {
		t.Errorf("ran in %v: the three 20ms delays were not honoured", elapsed)
	}
	// The SDF stage's output watermark follows the checkpoints, then ends.
	wantWM := []mtime.Time{4000, 9000, 14000, mtime.MaxTimestamp}
	if got := watermarks[sdfStage]; !slices.Equal(got, wantWM) {
		t.Errorf("SDF stage watermarks %v, want %v", got, wantWM)
	}
}

func TestSDFMatchesPrism(t *testing.T) {
	runBoth(t, func(s beam.Scope, prefix string) {
		collect(s, prefix+"out", beam.ParDo(s, &rangeFn{N: 12, Step: 4, Delay: time.Millisecond}, beam.Impulse(s)))
	}, "out")
}

func TestPeriodicImpulseUntilCancelled(t *testing.T) {
	var sdfStage string
	last := map[string]mtime.Time{}
	hooks := localrunner.Hooks{
		BundleDone: func(e localrunner.BundleEvent) {
			if len(e.Residuals) > 0 {
				sdfStage = e.Stage
			}
		},
		WatermarkAdvanced: func(e localrunner.WatermarkEvent) { last[e.Stage] = e.Watermark },
	}
	p, s := beam.NewPipelineWithRoot()
	start := time.Now()
	key := t.Name() + "/ticks"
	collect(s, key, periodic.Impulse(s, start, start.Add(time.Hour), 50*time.Millisecond, true))
	r, err := localrunner.New(localrunner.WithHooks(hooks))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err := r.Run(ctx, p)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v, want the context's deadline error", err)
	}
	if res == nil {
		t.Fatal("no result after cancellation")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("stopped %v after start, want promptly after the 1s deadline", took)
	}
	ticks := takeRecords(key)
	if len(ticks) < 10 || len(ticks) > 25 {
		t.Errorf("%d ticks in 1s at 50ms, want about 20", len(ticks))
	}
	for _, tk := range ticks {
		if !strings.HasPrefix(tk.Window, "[") {
			t.Errorf("tick %v not in a fixed window", tk)
		}
	}
	if w := last[sdfStage]; w < mtime.FromTime(start) || w == mtime.MaxTimestamp {
		t.Errorf("periodic stage watermark %v, want past the start %v", w, mtime.FromTime(start))
	}
}

// TestSDFResidualDelaysInFakeTime runs an SDF that waits an hour between
// checkpoints inside a synctest bubble: residual parking follows the
// (fake) clock, so three hours pass in an instant.
func TestSDFResidualDelaysInFakeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		prefix := t.Name() + "/"
		start := time.Now()
		_, err := runLocalCtx(t.Context(), t, func(s beam.Scope, prefix string) {
			collect(s, prefix+"out", beam.ParDo(s, &rangeFn{N: 8, Step: 2, Delay: time.Hour}, beam.Impulse(s)))
		}, prefix)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(takeRecords(prefix + "out")); got != 8 {
			t.Errorf("%d elements, want 8", got)
		}
		if took := time.Since(start); took < 3*time.Hour || took > 4*time.Hour {
			t.Errorf("took %v of fake time, want the three one-hour delays", took)
		}
	})
}
