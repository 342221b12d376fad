package beamtranslate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/contextreg"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/contract"
	"github.com/streams-dev/streams/io/kafka"
)

// The DoFns, combine fn and coder of Reduce (count windows too:
// countwindow.go) and Batch (batch.go), which
// must be registered before beam.Init like those of dofns.go; init is
// where that is certain to happen.
func init() {
	register.DoFn4x0[beam.EventTime, element, func(beam.EventTime, string, element), func(invalid)](&reduceKeyFn{})
	register.Combiner2[accum, element](&reduceCombineFn{})
	register.DoFn4x1[beam.Window, string, accum, func(beam.EventTime, element), error](&reduceOutputFn{})
	register.DoFn5x0[beam.Window, beam.EventTime, string, element, func(invalid)](&lateFn{})
	register.DoFn5x1[beam.EventTime, state.Provider, string, element, func(beam.EventTime, element), error](&countWindowFn{})
	contextreg.Default().TransformExtractor(func(ctx context.Context) contextreg.TransformMetadata {
		a := map[string][]byte{}
		if ctx.Value(lateDataKey{}) != nil {
			a[lateDataAnnotation] = nil
		}
		if ctx.Value(partitionKeyedKey{}) != nil {
			a[contract.PartitionKeyedAnnotation] = nil
		}
		if skew, ok := ctx.Value(eventTimeKey{}).(time.Duration); ok {
			a[contract.EventTimeAnnotation] = []byte(strconv.FormatInt(skew.Milliseconds(), 10))
		}
		if k, ok := ctx.Value(segmentKey{}).(int); ok {
			a[contract.SegmentAnnotation] = []byte(strconv.Itoa(k))
		}
		if len(a) == 0 {
			return contextreg.TransformMetadata{}
		}
		return contextreg.TransformMetadata{Annotations: a}
	})
	register.DoFn3x0[beam.EventTime, element, func(beam.EventTime, string, element)](&batchKeyFn{})
	register.DoFn6x1[beam.EventTime, state.Provider, timers.Provider, string, element, func(beam.EventTime, element), error](&batchFn{})
	register.DoFn6x1[context.Context, beam.EventTime, state.Provider, timers.Provider, string, element, error](&blobFn{})
	register.Emitter3[beam.EventTime, string, element]()
	beam.RegisterCoder(reflect.TypeFor[accum](), encodeAccum, decodeAccum)
	register.Function1x2(encodeAccum)
	register.Function1x2(decodeAccum)
}

// A Reduce step becomes, in its scope:
//
//	reduceKeyFn     element -> KV<key as JSON, element>, at the event time;
//	                a message whose key or event time fails goes to the
//	                invalid output, like a map's
//	WindowInto      the step's windows
//	CombinePerKey   reduceCombineFn: the step's accumulator
//	reduceOutputFn  KV<key, accumulator> -> the Windowed message, at the
//	                window's end minus 1ms
//	WindowInto      the global window again, so that downstream steps
//	                (a Batch, another Reduce) see an unwindowed stream
//
// and, when its late messages go to the dead-letter queue (LateToDLQ), a
// composite annotated for the bundled runner (lateDataAnnotation) that
// reads the windowed KVs, which that runner replaces by what the combine's
// GroupByKey drops as late: lateFn turns each into an invalid message.
//
// When a chain of steps (or the source) feeds the Reduce, the chain's
// DoFn keys the messages itself (keyStepFn, recordKeyFn: translator.chain)
// and the scope starts at WindowInto (reduceKeyed).
func (t *translator) reduce(n *dsl.Node, in beam.PCollection) error {
	s := t.stepScope(n)
	keyed, bad := beam.ParDo2(t.keyingScope(s, n, "key", nil), &reduceKeyFn{Pipeline: t.id, Step: n.Name(), KeepOrigin: t.lateToDLQ(n)}, in)
	t.bad = append(t.bad, bad)
	return t.reduceKeyed(s, n, keyed)
}

// partitionKeyedKey marks, in a scope's context, a step whose state
// follows the source's partitioning (contract.PartitionKeyedAnnotation).
type partitionKeyedKey struct{}

// stepScope is the scope of step n: annotated for the bundled runner when
// the step groups by a key that follows the source's partitioning (a
// Reduce declared so, a Batch per partition).
func (t *translator) stepScope(n *dsl.Node) beam.Scope {
	partitioned := false
	switch n.Kind() {
	case dsl.KindReduce:
		partitioned = n.Reducer().KeyFollowsPartitioning()
	case dsl.KindBatch:
		partitioned = !n.Batcher().PerKey()
	case dsl.KindSink:
		c, _ := t.sinkOf(n)
		partitioned = c.PartitionKeyed // a blob sink batches per source partition
	}
	ctx := t.withSegment(context.Background(), n)
	if partitioned {
		ctx = context.WithValue(ctx, partitionKeyedKey{}, true)
	}
	return scopeWith(t.s, ctx, n.Name())
}

// scopeWith is the scope name in s, annotated with what ctx holds (the
// TransformExtractor in init).
func scopeWith(s beam.Scope, ctx context.Context, name string) beam.Scope {
	if ctx == context.Background() {
		return s.Scope(name)
	}
	return s.WithContext(ctx, name)
}

// eventTimeKey holds, in a scope's context, the watermark skew of a
// ParDo that takes event times from payloads
// (contract.EventTimeAnnotation).
type eventTimeKey struct{}

// keyingScope is the scope, named name in s, of the ParDo that keys the
// messages of keyer: annotated for the bundled runner when keyer is a
// Reduce with its own event time, so that the watermark follows the event
// times it emits, and when head, the first step of the ParDo, starts a
// segment.
func (t *translator) keyingScope(s beam.Scope, keyer *dsl.Node, name string, head *dsl.Node) beam.Scope {
	ctx := context.Background()
	if head != nil {
		ctx = t.withSegment(ctx, head)
	}
	if keyer != nil && keyer.Kind() == dsl.KindReduce && keyer.Reducer().HasEventTime() {
		skew := t.b.Source.MaxSkew
		if skew == 0 {
			skew = kafka.DefaultMaxSkew
		}
		ctx = context.WithValue(ctx, eventTimeKey{}, skew)
	}
	return scopeWith(s, ctx, name)
}

// segmentKey holds, in a scope's context, the index of the segment the
// scope's step starts (contract.SegmentAnnotation).
type segmentKey struct{}

// segment is the index of the segment step n starts, or 0 when it starts
// none.
func (t *translator) segment(n *dsl.Node) int {
	if i := slices.Index(t.b.Segments, n.Name()); i >= 0 {
		return i + 1
	}
	return 0
}

// withSegment adds to ctx the segment n starts, if any.
func (t *translator) withSegment(ctx context.Context, n *dsl.Node) context.Context {
	if k := t.segment(n); k > 0 {
		return context.WithValue(ctx, segmentKey{}, k)
	}
	return ctx
}

// lateToDLQ reports whether the late messages of Reduce n go to the
// dead-letter queue, and so its keyed messages keep their source record.
// A count window has no late messages.
func (t *translator) lateToDLQ(n *dsl.Node) bool {
	if r := n.Reducer(); r != nil && r.Window().IsCount() {
		return false
	}
	return t.b.Source.DLQ != nil && slices.Contains(t.b.LateToDLQ, n.Name())
}

// reduceKeyed is Reduce n after the keying, in scope s, on its keyed
// messages.
func (t *translator) reduceKeyed(s beam.Scope, n *dsl.Node, keyed beam.PCollection) error {
	r := n.Reducer()
	if r.Window().IsCount() {
		return t.countWindow(s, n, keyed)
	}
	wfn, err := windowFn(r.Window())
	if err != nil {
		return fmt.Errorf("beamtranslate: reduce %s: %w", n.Name(), err)
	}
	windowed, err := beam.TryWindowInto(s, wfn, keyed)
	if err != nil {
		return fmt.Errorf("beamtranslate: reduce %s: %w", n.Name(), err)
	}
	accs, err := beam.TryCombinePerKey(s, &reduceCombineFn{Pipeline: t.id, Step: n.Name()}, windowed)
	if err != nil {
		return fmt.Errorf("beamtranslate: reduce %s: %w", n.Name(), err)
	}
	if t.lateToDLQ(n) {
		ls := s.WithContext(context.WithValue(context.Background(), lateDataKey{}, true), "late")
		rejected, err := beam.TryParDo(ls, &lateFn{Step: n.Name()}, windowed)
		if err != nil {
			return fmt.Errorf("beamtranslate: reduce %s: %w", n.Name(), err)
		}
		global, err := beam.TryWindowInto(ls, window.NewGlobalWindows(), rejected[0])
		if err != nil {
			return fmt.Errorf("beamtranslate: reduce %s: %w", n.Name(), err)
		}
		t.bad = append(t.bad, global)
	}
	out := beam.ParDo(s, &reduceOutputFn{Pipeline: t.id, Step: n.Name()}, accs)
	global, err := beam.TryWindowInto(s, window.NewGlobalWindows(), out)
	if err != nil {
		return fmt.Errorf("beamtranslate: reduce %s: %w", n.Name(), err)
	}
	return t.children(n, global)
}

func windowFn(w dsl.Window) (*window.Fn, error) {
	switch w.Kind() {
	case dsl.WindowTumbling:
		return window.NewFixedWindows(w.Size()), nil
	case dsl.WindowSliding:
		return window.NewSlidingWindows(w.Period(), w.Size()), nil
	case dsl.WindowSession:
		return window.NewSessions(w.Gap()), nil
	}
	return nil, fmt.Errorf("unknown window %v", w)
}

func lookupReducer(id, step string) (*dsl.Reducer, error) {
	n, err := lookup(id, step)
	if err != nil {
		return nil, err
	}
	r := n.Reducer()
	if r == nil {
		return nil, fmt.Errorf("beamtranslate: step %q of pipeline %q is a %s, not a reduce", step, id, n.Kind())
	}
	return r, nil
}

// reduceKeyFn keys each message for the combine and stamps it with its
// event time. It runs where no chain of steps precedes the Reduce
// (another Reduce or a Batch does); otherwise the chain's DoFn keys its
// outputs itself (keyStepFn, recordKeyFn).
type reduceKeyFn struct {
	Pipeline string
	Step     string
	// KeepOrigin keeps each message's source record, for the dead-letter
	// queue of late messages.
	KeepOrigin bool

	key reduceKeyer
}

func (fn *reduceKeyFn) Setup() error {
	r, err := lookupReducer(fn.Pipeline, fn.Step)
	fn.key = reduceKeyer{step: fn.Step, keepOrigin: fn.KeepOrigin, r: r}
	return err
}

func (fn *reduceKeyFn) ProcessElement(ts beam.EventTime, e element, emit func(beam.EventTime, string, element), bad func(invalid)) {
	m := dsl.Any{Payload: e.Payload, Key: e.Key, Headers: e.Headers, Timestamp: ts.ToTime()}
	fn.key.key(ts, m, fixedOrigin{e.Origin}, emit, bad)
}

// reduceKeyer keys a Reduce step's input messages for its combine:
// reduceKeyFn, and the chains of steps that end in a Reduce (chain).
type reduceKeyer struct {
	step       string
	keepOrigin bool
	r          *dsl.Reducer
}

// key emits message m, at ts (m.Timestamp is ts as a time), keyed by its
// key as JSON and at its event time; o is its source record. A message
// whose key or event time fails goes to bad, like a map's.
func (k *reduceKeyer) key(ts beam.EventTime, m dsl.Any, o originSource, emit func(beam.EventTime, string, element), bad func(invalid)) {
	key, err := k.r.Key(m)
	if err != nil {
		k.reject(err, o, bad)
		return
	}
	js, err := keyJSON(key)
	if err != nil {
		k.reject(&dsl.InvalidError{Step: k.step, Cause: fmt.Errorf("key %v cannot be encoded: %w", key, err)}, o, bad)
		return
	}
	et, err := k.r.EventTime(m)
	if err != nil {
		k.reject(err, o, bad)
		return
	}
	if !et.Equal(m.Timestamp) {
		ts = mtime.FromTime(et)
	}
	// The accumulator needs the payload alone; the rest would only be
	// encoded and shipped to the combine. A late message needs its source
	// record for the dead-letter queue.
	out := element{Payload: m.Payload}
	if k.keepOrigin {
		out.Origin = o.originRef()
	}
	emit(ts, js, out)
}

func (k *reduceKeyer) reject(err error, o originSource, bad func(invalid)) {
	bad(invalid{Step: k.step, Error: err.Error(), Origin: o.originRef().value()})
}

// originSource gives the source record of the message being keyed, which
// a chain reading records makes only when needed.
type originSource interface{ originRef() *origin }

// fixedOrigin is an element's origin as an originSource.
type fixedOrigin struct{ o *origin }

func (f fixedOrigin) originRef() *origin { return f.o }

// keyJSON is a Reduce key as JSON, the form in which keys travel and are
// stored: the bytes json.Marshal gives, which durable state holds, so
// they must never change. A string of printable ASCII that JSON (with
// json.Marshal's HTML escaping) leaves alone is quoted without the
// encoder; anything else goes through json.Marshal.
func keyJSON(k any) (string, error) {
	if s, ok := k.(string); ok && plainJSON(s) {
		return `"` + s + `"`, nil
	}
	js, err := json.Marshal(k)
	if err != nil {
		return "", err
	}
	return string(js), nil
}

// plainJSON reports whether json.Marshal writes s as it is, between
// quotes: every byte printable ASCII, none escaped (", \) or
// HTML-escaped (<, >, &).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// lateDataAnnotation marks the composite of a Reduce's late messages for
// the bundled runner, which feeds it the messages the GroupByKey drops.
const lateDataAnnotation = contract.LateDataAnnotation

// lateDataKey, in a scope's context, annotates the scope's composite with
// lateDataAnnotation.
type lateDataKey struct{}

// lateFn turns a message its Reduce's GroupByKey dropped as late into an
// invalid message for the dead-letter queue. Only a runner that honours
// lateDataAnnotation feeds it those alone; the translation adds it only
// for the bundled runner.
type lateFn struct {
	Step string
}

func (fn *lateFn) ProcessElement(w beam.Window, ts beam.EventTime, _ string, e element, emit func(invalid)) {
	cause := fmt.Sprintf("late: event time %s is past the end of its window", ts.ToTime().UTC().Format(time.RFC3339Nano))
	if iw, ok := w.(window.IntervalWindow); ok {
		cause = fmt.Sprintf("late: event time %s arrived after its window [%s, %s) closed (the watermark had passed its end)",
			ts.ToTime().UTC().Format(time.RFC3339Nano), iw.Start.ToTime().UTC().Format(time.RFC3339Nano), iw.End.ToTime().UTC().Format(time.RFC3339Nano))
	}
	emit(invalid{Step: fn.Step, Error: cause, Origin: e.Origin.value()})
}

// accum is a Reduce accumulator inside Beam. Its coder writes the value
// as the element coder writes a payload (the plain codec, or JSON tagged
// with the type's name); Register records the type for every Reduce step.
type accum struct{ V any }

func encodeAccum(a accum) ([]byte, error) { return appendPayload(nil, a.V) }

func decodeAccum(b []byte) (accum, error) {
	v, err := newDecoder(b).payload()
	return accum{V: v}, err
}

// reduceCombineFn runs a Reduce step's accumulator, found by name. Its
// errors (an accumulator function panicked) fail the bundle.
type reduceCombineFn struct {
	Pipeline string
	Step     string

	r *dsl.Reducer
}

func (fn *reduceCombineFn) reducer() (*dsl.Reducer, error) {
	if fn.r == nil {
		r, err := lookupReducer(fn.Pipeline, fn.Step)
		if err != nil {
			return nil, err
		}
		fn.r = r
	}
	return fn.r, nil
}

func (fn *reduceCombineFn) Setup() error {
	_, err := fn.reducer()
	return err
}

func (fn *reduceCombineFn) CreateAccumulator() (accum, error) {
	r, err := fn.reducer()
	if err != nil {
		return accum{}, err
	}
	v, err := r.NewAccumulator()
	return accum{V: v}, err
}

func (fn *reduceCombineFn) AddInput(a accum, e element) (accum, error) {
	r, err := fn.reducer()
	if err != nil {
		return accum{}, err
	}
	v, err := r.Add(a.V, e.Payload)
	return accum{V: v}, err
}

// reduceCombineFn is a contract.EncodedCombineFn.
var _ contract.EncodedCombineFn = (*reduceCombineFn)(nil)

// AddEncodedInputFor and AddEncodedInput let a runner that knows them
// (the bundled runner's EncodedCombineFn) add an element to an
// accumulator straight from the element coder's bytes: only the payload
// is decoded, not the element around it.
func (fn *reduceCombineFn) AddEncodedInputFor(in *coder.Coder) bool {
	return in.Kind == coder.Custom && in.Custom.Type == reflect.TypeFor[element]()
}

func (fn *reduceCombineFn) AddEncodedInput(acc any, value []byte) (any, error) {
	// The custom coder's length prefix, then the element, whose payload
	// comes first.
	d := newDecoder(value)
	d.B = d.Bytes()
	if d.Err != nil {
		return nil, d.Err
	}
	p, err := d.payload()
	if err != nil {
		return nil, err
	}
	return fn.addPayload(acc, p)
}

// addPayload adds a message's payload to accumulator acc, for
// AddEncodedInput and AddValueInput. Raw bytes are copied: the runner's
// buffer they come from is not the accumulator's.
func (fn *reduceCombineFn) addPayload(acc any, p any) (any, error) {
	a, ok := acc.(accum)
	if !ok {
		return nil, fmt.Errorf("beamtranslate: step %s: accumulator of type %T", fn.Step, acc)
	}
	r, err := fn.reducer()
	if err != nil {
		return nil, err
	}
	if b, ok := p.([]byte); ok {
		p = bytes.Clone(b)
	}
	v, err := r.Add(a.V, p)
	return accum{V: v}, err
}

func (fn *reduceCombineFn) MergeAccumulators(a, b accum) (accum, error) {
	r, err := fn.reducer()
	if err != nil {
		return accum{}, err
	}
	v, err := r.Merge(a.V, b.V)
	return accum{V: v}, err
}

// reduceOutputFn turns a key's accumulator for one window into the
// Reduce step's output message.
type reduceOutputFn struct {
	Pipeline string
	Step     string

	r *dsl.Reducer
}

func (fn *reduceOutputFn) Setup() (err error) {
	fn.r, err = lookupReducer(fn.Pipeline, fn.Step)
	return err
}

func (fn *reduceOutputFn) ProcessElement(w beam.Window, key string, a accum, emit func(beam.EventTime, element)) error {
	iw, ok := w.(window.IntervalWindow)
	if !ok {
		return fmt.Errorf("beamtranslate: step %s: the combine gave a %T window, want an interval", fn.Step, w)
	}
	k := reflect.New(fn.r.KeyType())
	if err := json.Unmarshal([]byte(key), k.Interface()); err != nil {
		return fmt.Errorf("beamtranslate: step %s: decode key %s: %w", fn.Step, key, err)
	}
	m, err := fn.r.Output(k.Elem().Interface(), dsl.Bounds{Start: iw.Start.ToTime(), End: iw.End.ToTime()}, a.V)
	if err != nil {
		return err
	}
	emit(mtime.FromTime(m.Timestamp), element{Payload: m.Payload, Key: m.Key, Headers: m.Headers})
	return nil
}
