// Package worker executes one bundle of one stage in process with the SDK's
// own executor, the way the SDK harness does over gRPC
// (harness.handleInstruction): exec.UnmarshalPlan once per plan instance,
// then per bundle plan.Execute with our DataManager and StateReader,
// plan.Checkpoint for SDF residuals, and later plan.Finalize or plan.Down.
//
// Elements cross this boundary as bytes, encoded as windowed values by the
// SDK's data sinks and decoded by its data source; inside a stage the SDK
// passes values in memory. A worker call touches only the bundle it is
// given and the plan lent to it, so it needs no locks; the engine's owner
// goroutine does all the bookkeeping.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/timer"
	"github.com/streams-dev/streams/localrunner/internal/userstate"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Plan is an executable plan of a stage: the SDK's (*exec.Plan), or one
// that runs an EncodedDoFn on encoded elements. A plan runs one bundle at
// a time.
type Plan interface {
	// Finalize runs the bundle finalization callbacks of the last bundle.
	Finalize() error
	// Down tears the plan's DoFns down.
	Down(ctx context.Context) error
}

// NewPlan builds an executable plan for a stage: for a plan.Encoded stage
// whose DoFn is an EncodedDoFn that can read and write its coders, one
// that runs it on encoded elements; otherwise the SDK's.
func NewPlan(s *plan.Stage) (Plan, error) {
	if s.Encoded != nil {
		p, err := newEncodedPlan(s)
		if err != nil {
			return nil, err
		}
		if p != nil {
			return p, nil
		}
	}
	return newSDKPlan(s)
}

// newSDKPlan builds the SDK's plan for a stage. UnmarshalPlan panics on
// transforms it does not know; that is returned as an error.
func newSDKPlan(s *plan.Stage) (p *exec.Plan, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("localrunner: the SDK cannot build %s %v: %v\n%s", s.ID, s.Names, r, debug.Stack())
		}
	}()
	return exec.UnmarshalPlan(s.Descriptor, nil)
}

// Bundle is one unit of work for an SDK stage.
type Bundle struct {
	ID    string
	Stage *plan.Stage
	// Plan is an idle plan of the stage, or nil to build a new one.
	Plan Plan
	// Input holds chunks of whole encoded windowed values.
	Input [][]byte
	// SideInputs of the stage, complete; nil when it has none.
	SideInputs *SideInputs
	// State is the bundle's view of the stage's user state, where its
	// changes collect; nil for stages without stateful DoFns.
	State *userstate.Txn
	// Timers are fired timers to deliver after Input, in order.
	Timers []timer.Fired
}

// Output is what a bundle wrote to one PCollection: whole encoded windowed
// values back to back in Data, element i ending at Ends[i].
type Output struct {
	Data  []byte
	Ends  []int
	MinTS mtime.Time // smallest event time written
	MaxTS mtime.Time // largest event time written
	// Values are more elements, handed over as Go values (an output
	// plan.EncodedOutput.Values marks), and Encode appends the encoding
	// of a value's V (group.Input's Values and Encode).
	Values []group.Value
	Encode func(dst []byte, v any) ([]byte, error)
}

// Len is the number of elements written.
func (o *Output) Len() int { return len(o.Ends) + len(o.Values) }

// Residual is the remainder of an SDF element that checkpointed itself.
type Residual struct {
	// Element is encoded with the stage's input coder: it goes back to the
	// same stage.
	Element []byte
	// Delay is how long the DoFn asked to wait (ResumeProcessingIn).
	Delay time.Duration
	// Watermark is the output watermark the SDF's watermark estimator
	// reported with the checkpoint (the minimum over its outputs), or, when
	// it reported none, the residual element's own event time. The stage's
	// output watermark is held here until the residual has run.
	Watermark mtime.Time
	// Reported is set when Watermark came from the watermark estimator.
	Reported bool
}

// Result of a bundle.
type Result struct {
	Bundle *Bundle
	// Plan is the plan to reuse (or to finalize first); nil when the bundle
	// failed (the plan was taken down).
	Plan    Plan
	Outputs map[string]*Output // by PCollection
	// Residuals returned by plan.Checkpoint.
	Residuals []Residual
	// Finalize is set when DoFns registered bundle finalization callbacks
	// that have not expired: call Plan.Finalize once the outputs are handed
	// on, and only then reuse the plan.
	Finalize bool
	// Timers the bundle set or cleared, by transform and family, in the
	// order written.
	Timers  []*TimerWrite
	Metrics *metrics.Store
	Elapsed time.Duration
	Err     error
}

// TimerWrite is what a bundle wrote to one timer family of one transform:
// encoded timers back to back (timer.Store.Set reads them).
type TimerWrite struct {
	Transform, Family string
	Data              []byte
}

// Process runs one bundle. It never panics: user panics come back as
// Result.Err, attributed to a transform where possible (*TransformError).
func Process(ctx context.Context, b *Bundle) *Result {
	start := time.Now()
	res := &Result{Bundle: b, Outputs: map[string]*Output{}}
	if b.Plan == nil {
		var err error
		if b.Plan, err = NewPlan(b.Stage); err != nil {
			res.Err = err
			return res
		}
	}
	ctx = metrics.SetBundleID(ctx, b.ID)
	res.Metrics = metrics.GetStore(ctx)
	dm := &dataManager{bundle: b, outputs: res.Outputs, timers: &res.Timers}
	for _, chunk := range b.Input {
		dm.inputBytes += len(chunk)
	}
	if ep, ok := b.Plan.(*encodedPlan); ok {
		err := ep.process(b, dm)
		res.Elapsed = time.Since(start)
		if err != nil {
			if te, ok := err.(*TransformError); ok {
				te.Bundle = b.ID
			}
			res.Err = err
			_ = ep.Down(ctx) // A failed plan is broken; Teardown errors add nothing.
			return res
		}
		dm.learnSizes()
		res.Plan = ep
		return res
	}
	p := b.Plan.(*exec.Plan)
	err := p.Execute(ctx, b.ID, exec.DataContext{Data: dm, State: newStateReader(b)})
	if err == nil {
		err = dm.err
	}
	if err == nil {
		dm.learnSizes()
	}
	res.Elapsed = time.Since(start)
	if err != nil {
		res.Err = attribute(b, res.Metrics, err)
		_ = p.Down(ctx) // A failed plan is broken; Teardown errors add nothing.
		return res
	}
	res.Plan = p
	for _, cp := range p.Checkpoint() {
		w, reported := minWatermark(cp.SR.OW)
		for _, rs := range cp.SR.RS {
			r := Residual{Element: rs, Delay: cp.Reapply, Watermark: w, Reported: reported}
			if !reported {
				r.Watermark = group.EventTime(rs)
			}
			res.Residuals = append(res.Residuals, r)
		}
	}
	res.Finalize = p.GetExpirationTime().After(time.Now())
	return res
}

func minWatermark(ow map[string]*timestamppb.Timestamp) (mtime.Time, bool) {
	if len(ow) == 0 {
		return mtime.MinTimestamp, false
	}
	w := mtime.MaxTimestamp
	for _, ts := range ow {
		if t := mtime.FromTime(ts.AsTime()); t < w {
			w = t
		}
	}
	return w, true
}

// dataManager is the exec.DataManager of one bundle.
type dataManager struct {
	bundle     *Bundle
	inputBytes int
	outputs    map[string]*Output
	timers     *[]*TimerWrite
	err        error
}

// outputSizes holds, per stage output (stage ID and PCollection), the
// bytes and elements its last bundle wrote per MiB of input, so that a
// bundle's output buffers start near the size they end at instead of
// growing by doubling (which allocates about twice the output).
var outputSizes sync.Map // string -> *outputSize

type outputSize struct{ bytes, elements, values atomic.Int64 } // per MiB of input

func outputSizeKey(stage, pcol string) string { return stage + "\x00" + pcol }

// newOutput makes pcol's output buffer, sized by what earlier bundles of
// the stage wrote.
func (d *dataManager) newOutput(pcol string) *Output {
	out := &Output{MinTS: mtime.MaxTimestamp, MaxTS: mtime.MinTimestamp}
	if v, ok := outputSizes.Load(outputSizeKey(d.bundle.Stage.ID, pcol)); ok && d.inputBytes > 0 {
		h := v.(*outputSize)
		// A little over the estimate: Data is copied if it outgrows it.
		out.Data = make([]byte, 0, int(h.bytes.Load())*d.inputBytes>>20*9/8+64)
		out.Ends = make([]int, 0, int(h.elements.Load())*d.inputBytes>>20*9/8+4)
		if n := int(h.values.Load()) * d.inputBytes >> 20; n > 0 {
			out.Values = make([]group.Value, 0, n*9/8+4)
		}
	}
	return out
}

// learnSizes records the bundle's output sizes for newOutput.
func (d *dataManager) learnSizes() {
	if d.inputBytes < 1024 {
		return // timers alone, or too little to learn from
	}
	for pcol, out := range d.outputs {
		key := outputSizeKey(d.bundle.Stage.ID, pcol)
		v, ok := outputSizes.Load(key)
		if !ok {
			v, _ = outputSizes.LoadOrStore(key, new(outputSize))
		}
		h := v.(*outputSize)
		h.bytes.Store(int64(len(out.Data) << 20 / d.inputBytes))
		h.elements.Store(int64(len(out.Ends) << 20 / d.inputBytes))
		h.values.Store(int64(len(out.Values) << 20 / d.inputBytes))
	}
}

func (d *dataManager) OpenElementChan(_ context.Context, id exec.StreamID, _ []string) (<-chan exec.Elements, error) {
	if id.PtransformID != d.bundle.Stage.SourceID {
		return nil, fmt.Errorf("localrunner: %s has no input %q", d.bundle.Stage.ID, id.PtransformID)
	}
	ch := make(chan exec.Elements, len(d.bundle.Input)+len(d.bundle.Timers))
	for _, chunk := range d.bundle.Input {
		ch <- exec.Elements{Data: chunk, PtransformID: id.PtransformID}
	}
	for _, f := range d.bundle.Timers {
		ch <- exec.Elements{Timers: f.Data, TimerFamilyID: f.Family, PtransformID: f.Transform}
	}
	close(ch)
	return ch, nil
}

func (d *dataManager) OpenWrite(_ context.Context, id exec.StreamID) (io.WriteCloser, error) {
	pcol, ok := d.bundle.Stage.Sinks[id.PtransformID]
	if !ok {
		return nil, fmt.Errorf("localrunner: %s has no output %q", d.bundle.Stage.ID, id.PtransformID)
	}
	out := d.outputs[pcol]
	if out == nil {
		out = d.newOutput(pcol)
		d.outputs[pcol] = out
	}
	return &sinkWriter{out: out}, nil
}

// OpenTimerWrite collects the timers a transform sets or clears; the SDK
// writes each whole timer in one Write call, after the bundle's elements.
func (d *dataManager) OpenTimerWrite(_ context.Context, id exec.StreamID, family string) (io.WriteCloser, error) {
	for _, w := range *d.timers {
		if w.Transform == id.PtransformID && w.Family == family {
			return w, nil
		}
	}
	w := &TimerWrite{Transform: id.PtransformID, Family: family}
	*d.timers = append(*d.timers, w)
	return w, nil
}

// Write appends one encoded timer.
func (w *TimerWrite) Write(p []byte) (int, error) {
	w.Data = append(w.Data, p...)
	return len(p), nil
}

// Close implements io.WriteCloser.
func (w *TimerWrite) Close() error { return nil }

// sinkWriter collects what an exec.DataSink writes. The sink writes each
// element with exactly one Write call ("they must be transmitted on FnAPI as
// a single unit", exec/datasink.go); that is how element boundaries are
// known without decoding elements.
type sinkWriter struct {
	out *Output
}

func (w *sinkWriter) Write(p []byte) (int, error) {
	w.out.Data = append(w.out.Data, p...)
	w.out.Ends = append(w.out.Ends, len(w.out.Data))
	t := group.EventTime(p)
	w.out.MinTS, w.out.MaxTS = min(w.out.MinTS, t), max(w.out.MaxTS, t)
	return len(p), nil
}

func (w *sinkWriter) Close() error { return nil }

// errNoState is returned by the StateReader methods a bundle has nothing
// for: user state in a stage without stateful DoFns, side inputs in one
// without side inputs. Reaching one is a bug.
var errNoState = errors.New("localrunner: no such state for this bundle")

type noState struct{}

func (noState) OpenIterableSideInput(context.Context, exec.StreamID, string, []byte) (io.ReadCloser, error) {
	return nil, errNoState
}
func (noState) OpenMultiMapSideInput(context.Context, exec.StreamID, string, []byte, []byte) (io.ReadCloser, error) {
	return nil, errNoState
}
func (noState) OpenIterable(context.Context, exec.StreamID, []byte) (io.ReadCloser, error) {
	return nil, errNoState
}
func (noState) OpenBagUserStateReader(context.Context, exec.StreamID, string, []byte, []byte) (io.ReadCloser, error) {
	return nil, errNoState
}
func (noState) OpenBagUserStateAppender(context.Context, exec.StreamID, string, []byte, []byte) (io.Writer, error) {
	return nil, errNoState
}
func (noState) OpenBagUserStateClearer(context.Context, exec.StreamID, string, []byte, []byte) (io.Writer, error) {
	return nil, errNoState
}
func (noState) OpenMultimapUserStateReader(context.Context, exec.StreamID, string, []byte, []byte, []byte) (io.ReadCloser, error) {
	return nil, errNoState
}
func (noState) OpenMultimapUserStateAppender(context.Context, exec.StreamID, string, []byte, []byte, []byte) (io.Writer, error) {
	return nil, errNoState
}
func (noState) OpenMultimapUserStateClearer(context.Context, exec.StreamID, string, []byte, []byte, []byte) (io.Writer, error) {
	return nil, errNoState
}
func (noState) OpenMultimapKeysUserStateReader(context.Context, exec.StreamID, string, []byte, []byte) (io.ReadCloser, error) {
	return nil, errNoState
}
func (noState) OpenMultimapKeysUserStateClearer(context.Context, exec.StreamID, string, []byte, []byte) (io.Writer, error) {
	return nil, errNoState
}
func (noState) OpenOrderedListUserStateReader(context.Context, exec.StreamID, string, []byte, []byte, int64, int64) (io.ReadCloser, error) {
	return nil, errNoState
}
func (noState) OpenOrderedListUserStateAppender(context.Context, exec.StreamID, string, []byte, []byte) (io.Writer, error) {
	return nil, errNoState
}
func (noState) OpenOrderedListUserStateClearer(context.Context, exec.StreamID, string, []byte, []byte, int64, int64) (io.Writer, error) {
	return nil, errNoState
}
func (noState) GetSideInputCache() exec.SideCache { return noCache{} }

// TransformError is a failure of user code (an error returned or a panic)
// in one transform of a bundle.
type TransformError struct {
	// Transform is the unique name of the failing transform, or "" when the
	// failure could not be attributed (then Stage and its transforms are
	// named).
	Transform string
	// Stage and Transforms locate the bundle.
	Stage      string
	Transforms []string
	// Bundle is the bundle ID.
	Bundle string
	// Panic is set when user code panicked.
	Panic bool
	// Cause is the short story: the DoFn's error text, or the panic value
	// and the file and line that panicked.
	Cause string
	// Err is the SDK's full error: the plan, the cause and, for panics, the
	// stack.
	Err error
}

func (e *TransformError) Error() string {
	what := "failed"
	if e.Panic {
		what = "panicked"
	}
	if e.Transform == "" {
		return fmt.Sprintf("localrunner: bundle %s of %s %q %s: %s", e.Bundle, e.Stage, e.Transforms, what, e.Cause)
	}
	return fmt.Sprintf("localrunner: transform %q %s: %s", e.Transform, what, e.Cause)
}

func (e *TransformError) Unwrap() error { return e.Err }

// pidRE finds the transform in the SDK's DoFn error text ("DoFn[UID:3,
// PID:e4, Name: ...] failed:"); the error type itself is unexported.
var pidRE = regexp.MustCompile(`DoFn\[UID:\d+, PID:([^,\]]+),`)

// attribute names the transform behind a bundle failure: from the SDK's
// DoFn error for returned errors; for panics, from the innermost stack frame
// of one of the stage's DoFns, else from the transform the SDK's metrics
// say was running.
func attribute(b *Bundle, store *metrics.Store, err error) error {
	te := &TransformError{Stage: b.Stage.ID, Transforms: b.Stage.Names, Bundle: b.ID, Err: err}
	msg := err.Error()
	te.Panic = strings.HasPrefix(msg, "panic: ")
	te.Cause = cause(msg, te.Panic)
	names := func(tid string) string {
		for i, id := range b.Stage.Transforms {
			if id == tid {
				return b.Stage.Names[i]
			}
		}
		return ""
	}
	if m := pidRE.FindStringSubmatch(msg); m != nil {
		if n := names(m[1]); n != "" {
			te.Transform = n
			return te
		}
	}
	if te.Panic {
		best := -1
		for tid, fn := range b.Stage.DoFns {
			if i := frameIndex(msg, fn); i >= 0 && (best < 0 || i < best) {
				best, te.Transform = i, names(tid)
			}
		}
		if te.Transform != "" {
			return te
		}
	}
	if pid := runningTransform(store); pid != "" {
		te.Transform = names(pid)
	}
	return te
}

// frameIndex returns where a stack trace first shows a frame of the DoFn
// named fn ("pkg/path.Type" or "pkg/path.func"), or -1.
func frameIndex(stack, fn string) int {
	dot := strings.LastIndex(fn, ".")
	if dot < 0 {
		return -1
	}
	pkg, name := fn[:dot], fn[dot+1:]
	best := -1
	for _, pat := range []string{pkg + ".(*" + name + ").", pkg + "." + name + ".", pkg + "." + name + "("} {
		if i := strings.Index(stack, pat); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}

// cause extracts the short cause from the SDK's error text: the DoFn's own
// error after "DoFn[...] failed:", or the panic value (the error's first
// line) and the first non-runtime frame after the panic.
func cause(msg string, panicked bool) string {
	first, _, _ := strings.Cut(msg, "\n")
	if panicked {
		first = strings.TrimPrefix(first, "panic: ")
		if site := panicSite(msg); site != "" {
			return first + " (at " + site + ")"
		}
		return first
	}
	if i := strings.LastIndex(msg, "] failed:\n"); i >= 0 {
		return strings.TrimSpace(msg[i+len("] failed:\n"):])
	}
	return first
}

// panicSite returns "function file:line" of the frame that panicked.
func panicSite(stack string) string {
	i := strings.Index(stack, "\npanic(")
	if i < 0 {
		return ""
	}
	lines := strings.Split(stack[i+1:], "\n")
	for j := 2; j+1 < len(lines); j += 2 { // skip panic( and its file line
		fn, file := lines[j], strings.TrimSpace(lines[j+1])
		if strings.HasPrefix(fn, "runtime.") {
			continue
		}
		if k := strings.LastIndex(fn, "("); k > 0 {
			fn = fn[:k]
		}
		if k := strings.LastIndex(file, " +0x"); k > 0 {
			file = file[:k]
		}
		return fn + " " + file
	}
	return ""
}

var bundleStatePID = regexp.MustCompile(`PTransform ID: (\S+)`)

// runningTransform returns the transform the SDK last marked as running in
// the bundle's metrics store.
func runningTransform(store *metrics.Store) string {
	if store == nil {
		return ""
	}
	if m := bundleStatePID.FindStringSubmatch(store.BundleState()); m != nil {
		return m[1]
	}
	return ""
}
