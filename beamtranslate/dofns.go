package beamtranslate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/contract"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/observe"
)

// Beam requires every DoFn, emitter and element type to be registered
// before beam.Init, in every process that may run them; init is the one
// place where that is certain to happen. This is the only init with side
// effects in this file (reduce.go registers the Reduce and Batch DoFns
// the same way, and the emitter of keyed messages that keyStepFn and
// recordKeyFn share with reduceKeyFn).
func init() {
	register.DoFn3x0[beam.EventTime, kafka.Record, func(beam.EventTime, element)](&fromRecordFn{})
	register.DoFn4x0[beam.EventTime, element, func(beam.EventTime, element), func(invalid)](&stepFn{})
	register.DoFn4x0[beam.EventTime, kafka.Record, func(beam.EventTime, element), func(invalid)](&recordStepFn{})
	register.DoFn4x0[beam.EventTime, element, func(beam.EventTime, string, element), func(invalid)](&keyStepFn{})
	register.DoFn4x0[beam.EventTime, kafka.Record, func(beam.EventTime, string, element), func(invalid)](&recordKeyFn{})
	register.DoFn4x0[beam.EventTime, element, func(kafka.Record), func(invalid)](&toRecordFn{})
	register.DoFn2x1[context.Context, element, error](&devNullFn{})
	register.DoFn3x0[context.Context, invalid, func(kafka.Record)](&dlqRecordFn{})
	register.DoFn2x1[context.Context, invalid, error](&noDLQFn{})
	register.Emitter2[beam.EventTime, element]()
	register.Emitter1[invalid]()
	register.Emitter1[kafka.Record]()
	beam.RegisterCoder(reflect.TypeFor[element](), encodeElement, decodeElement)
	beam.RegisterCoder(reflect.TypeFor[invalid](), encodeInvalid, decodeInvalid)
	// Registered callers spare the coders reflect.Value.Call per element.
	register.Function1x2(encodeElement)
	register.Function1x2(decodeElement)
	register.Function1x2(encodeInvalid)
	register.Function1x2(decodeInvalid)
}

// Headers added to a record sent to the dead-letter queue. The record
// keeps the source record's key, value and headers.
const (
	HeaderDLQPrefix    = "streams.dlq."                // every header below starts with it
	HeaderDLQStep      = HeaderDLQPrefix + "step"      // the step that rejected the message
	HeaderDLQError     = HeaderDLQPrefix + "error"     // why
	HeaderDLQTopic     = HeaderDLQPrefix + "topic"     // the source record's topic
	HeaderDLQPartition = HeaderDLQPrefix + "partition" // its partition, decimal
	HeaderDLQOffset    = HeaderDLQPrefix + "offset"    // its offset, decimal
)

func dslHeaders(hs []kafka.Header) []dsl.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]dsl.Header, len(hs))
	for i, h := range hs {
		out[i] = dsl.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

func kafkaHeaders(hs []dsl.Header, extra int) []kafka.Header {
	if len(hs)+extra == 0 {
		return nil
	}
	out := make([]kafka.Header, len(hs), len(hs)+extra)
	for i, h := range hs {
		out[i] = kafka.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

// fromRecordFn turns a source record into a message. It runs where the
// source feeds a sink or several steps; otherwise the chain's DoFn reads
// the records itself (recordStepFn, recordKeyFn).
type fromRecordFn struct {
	Pipeline string `json:",omitempty"`
	Step     string `json:",omitempty"`

	counted
}

func (fn *fromRecordFn) Setup() { fn.counted.setup(fn.Pipeline, fn.Step) }

// FinishBundle declares the emitter because Beam requires it of a DoFn
// whose ProcessElement emits.
func (fn *fromRecordFn) FinishBundle(ctx context.Context, _ func(beam.EventTime, element)) {
	fn.counted.flush(ctx)
}

func (fn *fromRecordFn) ProcessElement(ts beam.EventTime, r kafka.Record, emit func(beam.EventTime, element)) {
	fn.n++
	hs := dslHeaders(r.Headers)
	o := recordOrigin(r, hs)
	emit(ts, element{Payload: r.Value, Key: r.Key, Headers: hs, Origin: &o})
}

// recordOrigin is the origin of the messages made from source record r,
// whose headers are hs.
func recordOrigin(r kafka.Record, hs []dsl.Header) origin {
	return origin{
		Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Key: r.Key, Value: r.Value, Headers: hs,
	}
}

// chain is the core of the DoFns that run a fused chain of DSL steps as
// one ParDo, so that the SDK's per-DoFn cost (invocation, emitters,
// element copies) is paid once per chain:
//
//	stepFn        message -> message
//	recordStepFn  source record -> message
//	keyStepFn     message -> KV<key, message> for a Reduce or a Batch
//	recordKeyFn   source record -> KV<key, message> for a Reduce or a Batch
//
// They differ only in what they read and emit; Beam needs a distinct Go
// type for each ProcessElement signature, and a generic one could not be
// registered by name.
//
// The chain runs Steps, found by name, each step's outputs going straight
// into the next step's function. The last step's outputs are emitted,
// or, when Reduce is set, keyed for that Reduce step exactly as
// reduceKeyFn keys them (reduceKeyer), or, when Batch is set, by batch
// exactly as batchKeyFn keys them. When Source is set the chain reads
// the source's records and counts them for the source step as
// fromRecordFn does. Steps may be empty when the chain reads records and
// keys them (a Reduce or a Batch right after the source).
type chain struct {
	Pipeline string
	Steps    []string
	// Routed is set on a branch's first step under a Router: it keeps only
	// the messages the router sent to it.
	Routed bool
	// Source is the source step whose records the chain reads, if it does.
	Source string `json:",omitempty"`
	// Reduce is the Reduce step the chain keys its outputs for, if any;
	// KeepOrigin keeps each keyed message's source record, as
	// reduceKeyFn.KeepOrigin does.
	Reduce     string `json:",omitempty"`
	KeepOrigin bool   `json:",omitempty"`
	// Batch is the Batch step the chain keys its outputs for, if any, by
	// the batch each belongs to, exactly as batchKeyFn keys them
	// (BatchPerKey is its PerKey).
	Batch       string `json:",omitempty"`
	BatchPerKey bool   `json:",omitempty"`
	// Decoders remake the chain's Parser and BatchParser steps with the
	// deployment config's codec and schema, by step name.
	Decoders map[string]DecoderBinding `json:",omitempty"`
	// Encoders remake the chain's Serializer steps with the deployment
	// config's codec, by step name.
	Encoders map[string]EncoderBinding `json:",omitempty"`
	// Sink is the Kafka sink the chain makes records for, if any, as
	// toRecordFn makes them (sinkchain.go).
	Sink *recordSink `json:",omitempty"`

	nodes  []*dsl.Node
	emits  []func(dsl.Any) // emits[i] takes the outputs of nodes[i]
	key    reduceKeyer     // Reduce is set
	source counted         // Source is set

	// Metrics: counts per step, flushed at the end of each bundle, and
	// the exclusive time of each step's call, sampled.
	pl     *observe.Pipeline // nil: metrics off
	steps  []stepMetrics
	counts []stepCounts
	seq    uint64
	timed  bool          // the element being processed is timed
	child  time.Duration // inclusive time of the calls nested in the current one

	// The element being processed, and the DoFn's emitters for it.
	ts     beam.EventTime
	inTime time.Time
	// Its source record: origin, shared with the element it came in, or,
	// when fromRecord, recOrigin until originRef makes origin.
	origin     *origin
	recOrigin  origin
	fromRecord bool
	out        func(beam.EventTime, element)         // neither Reduce nor Batch is set
	outKV      func(beam.EventTime, string, element) // Reduce or Batch is set
	bad        func(invalid)

	// The emitters and buffers of the encoded fast path (encoded.go),
	// made on its first use, and the runner's emitter of keyed messages
	// as values (values.go), when it asked for them.
	enc    *encodedOut
	values func(beam.EventTime, []byte, any)
}

func (c *chain) Setup() error {
	c.nodes = make([]*dsl.Node, len(c.Steps))
	for i, step := range c.Steps {
		n, err := lookup(c.Pipeline, step)
		if err != nil {
			return err
		}
		if b, ok := c.Decoders[step]; ok {
			if n, err = b.Apply(n); err != nil {
				return fmt.Errorf("beamtranslate: %w", err)
			}
		}
		if b, ok := c.Encoders[step]; ok {
			if n, err = b.Apply(n); err != nil {
				return fmt.Errorf("beamtranslate: %w", err)
			}
		}
		c.nodes[i] = n
	}
	if c.Reduce != "" {
		r, err := lookupReducer(c.Pipeline, c.Reduce)
		if err != nil {
			return err
		}
		c.key = reduceKeyer{step: c.Reduce, keepOrigin: c.KeepOrigin, r: r}
	}
	if c.Source != "" {
		c.source.setup(c.Pipeline, c.Source)
	}
	if c.Sink != nil {
		c.Sink.setup(c.Pipeline)
	}
	c.pl = observe.Lookup(c.Pipeline)
	c.steps = make([]stepMetrics, len(c.Steps))
	for i, step := range c.Steps {
		c.steps[i] = newStepMetrics(c.pl, step)
	}
	c.counts = make([]stepCounts, len(c.Steps))
	c.emits = make([]func(dsl.Any), len(c.nodes))
	for i := range c.nodes {
		if i < len(c.nodes)-1 {
			next := i + 1
			c.emits[i] = func(m dsl.Any) {
				c.counts[i].out++
				c.apply(next, m)
			}
			continue
		}
		c.emits[i] = func(m dsl.Any) {
			c.counts[i].out++
			c.emit(m)
		}
	}
	return nil
}

type stepCounts struct{ in, out, errors uint64 }

// flush adds the bundle's counts to the steps' metrics.
func (c *chain) flush(ctx context.Context) {
	for i := range c.counts {
		n := &c.counts[i]
		c.steps[i].add(ctx, n.in, n.out, n.errors)
		*n = stepCounts{}
	}
	if c.Source != "" {
		c.source.flush(ctx)
	}
	if c.Sink != nil {
		c.Sink.flush(ctx)
	}
}

// message runs the chain on message e, at ts.
func (c *chain) message(ts beam.EventTime, e element) {
	if c.Routed && e.Branch != c.Steps[0] {
		return
	}
	c.origin, c.fromRecord = e.Origin, false
	c.start(ts, dsl.Any{Payload: e.Payload, Key: e.Key, Headers: e.Headers})
}

// record runs the chain on the message made from source record r, at ts,
// as fromRecordFn makes it.
func (c *chain) record(ts beam.EventTime, r kafka.Record) {
	c.source.n++
	hs := dslHeaders(r.Headers)
	c.recOrigin, c.origin, c.fromRecord = recordOrigin(r, hs), nil, true
	c.start(ts, dsl.Any{Payload: r.Value, Key: r.Key, Headers: hs})
}

func (c *chain) start(ts beam.EventTime, m dsl.Any) {
	c.ts, c.inTime = ts, ts.ToTime()
	m.Timestamp = c.inTime
	if len(c.nodes) == 0 {
		c.timed = false
		c.emit(m)
		return
	}
	c.timed = c.pl != nil && c.seq%observe.TimingSample == 0
	c.seq++
	c.apply(0, m)
}

// apply runs step i on m.
func (c *chain) apply(i int, m dsl.Any) {
	c.counts[i].in++
	if !c.timed {
		c.run(i, m)
		return
	}
	// The step's own time is its call's time less that of the calls
	// nested in it (the steps after it, which its emit runs).
	start := time.Now()
	outer := c.child
	c.child = 0
	c.run(i, m)
	total := time.Since(start)
	c.steps[i].obs.Observe(total - c.child)
	c.child = outer + total
}

func (c *chain) run(i int, m dsl.Any) {
	n := c.nodes[i]
	if n.Kind() == dsl.KindRouter {
		// A router ends its chain: its output is tagged with the branch.
		branch, err := n.Route(m)
		if err != nil {
			c.reject(i, err)
			return
		}
		c.counts[i].out++
		c.out(c.ts, element{Payload: m.Payload, Key: m.Key, Headers: m.Headers, Branch: branch, Origin: c.originRef()})
		return
	}
	if err := n.Process(m, c.emits[i]); err != nil {
		var items *dsl.ItemsError
		if errors.As(err, &items) {
			c.rejectItems(i, m, items)
			return
		}
		c.reject(i, err)
	}
}

// emit sends m, an output of the chain's last step (or the message read,
// when there are no steps), out of the DoFn.
func (c *chain) emit(m dsl.Any) {
	t := c.ts
	if !m.Timestamp.Equal(c.inTime) {
		t = mtime.FromTime(m.Timestamp)
	}
	if !c.timed {
		c.send(t, m)
		return
	}
	// What runs after the last step (the keying, and what runs downstream
	// in the same bundle) is no step's time.
	start := time.Now()
	c.send(t, m)
	c.child += time.Since(start)
}

func (c *chain) send(t beam.EventTime, m dsl.Any) {
	if c.Sink != nil {
		c.sendRecord(t, m)
		return
	}
	if c.Batch != "" {
		e := element{Payload: m.Payload, Key: m.Key, Headers: m.Headers, Origin: c.originRef()}
		c.outKV(t, batchKey(c.BatchPerKey, e), e)
		return
	}
	if c.key.r == nil {
		c.out(t, element{Payload: m.Payload, Key: m.Key, Headers: m.Headers, Origin: c.originRef()})
		return
	}
	// The Reduce sees the message as it would after a hop through Beam:
	// at t, a time in milliseconds.
	m.Timestamp = c.inTime
	if t != c.ts {
		m.Timestamp = t.ToTime()
	}
	c.key.key(t, m, c, c.outKV, c.bad)
}

func (c *chain) reject(i int, err error) {
	c.counts[i].errors++
	n := c.nodes[i]
	step := n.Name()
	var inv *dsl.InvalidError
	if errors.As(err, &inv) {
		step = inv.Step
	}
	c.bad(invalid{Step: step, Error: err.Error(), Origin: c.originRef().value()})
}

// rejectItems sends each item of batch message m that step i rejected
// to the dead-letter queue as a record of its own: the item as its
// value, the message's key, and the batch's source record's topic,
// partition and offset where it has one (a batch from Batch has none).
func (c *chain) rejectItems(i int, m dsl.Any, items *dsl.ItemsError) {
	step := c.nodes[i].Name()
	o := c.originRef().value()
	o.Key, o.Value, o.Headers = m.Key, nil, m.Headers
	for _, it := range items.Items {
		c.counts[i].errors++
		io := o
		io.Value = it.Value
		inv := &dsl.InvalidError{Step: step, Cause: it}
		c.bad(invalid{Step: step, Error: inv.Error(), Origin: io})
	}
}

// name is the chain's name: every step it runs, joined by
// contract.StepSeparator ("in+parse+count"), the scope of its ParDo and
// its name in errors.
func (c *chain) name() string {
	var names []string
	if c.Source != "" {
		names = append(names, c.Source)
	}
	names = append(names, c.Steps...)
	if c.Sink != nil {
		names = append(names, c.Sink.Step)
	}
	if k := c.keyingStep(); k != "" {
		names = append(names, k)
	}
	return strings.Join(names, contract.StepSeparator)
}

// keyingStep is the Reduce or Batch step the chain keys its outputs for,
// or "".
func (c *chain) keyingStep() string {
	if c.Batch != "" {
		return c.Batch
	}
	return c.Reduce
}

// originRef is the source record of the message being processed: its
// element's, or, for a record read, one made on first use (a keyed
// message needs none unless late messages go to the dead-letter queue).
func (c *chain) originRef() *origin {
	if c.origin == nil && c.fromRecord {
		o := c.recOrigin
		c.origin = &o
	}
	return c.origin
}

// stepFn runs a chain of DSL transform steps on messages.
type stepFn struct{ chain }

// FinishBundle adds the bundle's counts to the steps' metrics. (It
// declares the emitters because Beam requires it.)
func (fn *stepFn) FinishBundle(ctx context.Context, _ func(beam.EventTime, element), _ func(invalid)) {
	fn.flush(ctx)
}

func (fn *stepFn) ProcessElement(ts beam.EventTime, e element, emit func(beam.EventTime, element), bad func(invalid)) {
	fn.out, fn.bad = emit, bad
	fn.message(ts, e)
}

// recordStepFn runs a chain of DSL transform steps on the source's
// records: the source's fromRecordFn and the chain's stepFn in one.
type recordStepFn struct{ chain }

func (fn *recordStepFn) FinishBundle(ctx context.Context, _ func(beam.EventTime, element), _ func(invalid)) {
	fn.flush(ctx)
}

func (fn *recordStepFn) ProcessElement(ts beam.EventTime, r kafka.Record, emit func(beam.EventTime, element), bad func(invalid)) {
	fn.out, fn.bad = emit, bad
	fn.record(ts, r)
}

// keyStepFn runs a chain of DSL transform steps on messages and keys
// their outputs for the Reduce or Batch step after them: the chain's
// stepFn and the Reduce's reduceKeyFn (the Batch's batchKeyFn) in one.
type keyStepFn struct{ chain }

func (fn *keyStepFn) FinishBundle(ctx context.Context, _ func(beam.EventTime, string, element), _ func(invalid)) {
	fn.flush(ctx)
}

func (fn *keyStepFn) ProcessElement(ts beam.EventTime, e element, emit func(beam.EventTime, string, element), bad func(invalid)) {
	fn.outKV, fn.bad = emit, bad
	fn.message(ts, e)
}

// recordKeyFn runs a chain of DSL transform steps, perhaps none, on the
// source's records and keys their outputs for the Reduce or Batch step
// after them: fromRecordFn, stepFn and reduceKeyFn (batchKeyFn) in one.
type recordKeyFn struct{ chain }

func (fn *recordKeyFn) FinishBundle(ctx context.Context, _ func(beam.EventTime, string, element), _ func(invalid)) {
	fn.flush(ctx)
}

func (fn *recordKeyFn) ProcessElement(ts beam.EventTime, r kafka.Record, emit func(beam.EventTime, string, element), bad func(invalid)) {
	fn.outKV, fn.bad = emit, bad
	fn.record(ts, r)
}

// toRecordFn turns a message into a record for a Kafka sink. A record
// larger than the sink's topic accepts (MaxBytes, see
// kafka.Record.BatchSize) is that message's error: it goes to the second
// output, like a step's rejection, rather than failing the write.
type toRecordFn struct {
	Pipeline string `json:",omitempty"`
	Step     string
	Topic    string `json:",omitempty"`
	MaxBytes int32  `json:",omitempty"`

	counted
	rejected uint64
}

func (fn *toRecordFn) Setup() { fn.counted.setup(fn.Pipeline, fn.Step) }

func (fn *toRecordFn) FinishBundle(ctx context.Context, _ func(kafka.Record), _ func(invalid)) {
	fn.step.add(ctx, fn.n, fn.n-fn.rejected, fn.rejected)
	fn.n, fn.rejected = 0, 0
}

func (fn *toRecordFn) ProcessElement(ts beam.EventTime, e element, emit func(kafka.Record), bad func(invalid)) {
	fn.n++
	r, err := sinkRecord(fn.Step, fn.Topic, fn.MaxBytes, ts, e)
	if err != nil {
		fn.rejected++
		bad(invalid{Step: fn.Step, Error: err.Error(), Origin: e.Origin.value()})
		return
	}
	emit(r)
}

// dlqRecordFn turns a rejected message back into its source record, with
// headers that say who rejected it and why.
type dlqRecordFn struct {
	Pipeline string `json:",omitempty"`
	// MaxBytes is the most the dead-letter topic accepts (see
	// kafka.Record.BatchSize); a larger record is truncated to fit.
	MaxBytes int32 `json:",omitempty"`

	pl    *observe.Pipeline
	beamc dlqCounters
}

func (fn *dlqRecordFn) Setup() { fn.pl, fn.beamc = observe.Lookup(fn.Pipeline), dlqCounters{} }

func (fn *dlqRecordFn) ProcessElement(ctx context.Context, v invalid, emit func(kafka.Record)) {
	fn.pl.DeadLettered(v.Step, 1)
	fn.beamc.inc(ctx, v.Step)
	o := v.Origin
	fn.pl.Rejected(observe.Rejection{Step: v.Step, Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, Error: v.Error})
	hs := kafkaHeaders(o.Headers, 5)
	hs = append(hs,
		kafka.Header{Key: HeaderDLQStep, Value: []byte(v.Step)},
		kafka.Header{Key: HeaderDLQError, Value: []byte(v.Error)},
		kafka.Header{Key: HeaderDLQTopic, Value: []byte(o.Topic)},
		kafka.Header{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(int(o.Partition)))},
		kafka.Header{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(o.Offset, 10))},
	)
	emit(fitDLQ(kafka.Record{Key: o.Key, Value: o.Value, Headers: hs}, fn.MaxBytes))
}

// noDLQFn applies the steps' on_invalid policies when no dead-letter
// queue is configured: skip logs and counts a rejected message; stop (any
// step not in Skip) fails the bundle, so the runner commits nothing past
// the message.
type noDLQFn struct {
	Pipeline string `json:",omitempty"`
	Skip     []string

	skip     map[string]bool
	rejected beam.Counter
	pl       *observe.Pipeline
	logged   map[string]*skipLog
}

// skipLogEvery is how often noDLQFn logs the skips of one step: the first
// at once, then one line per period with the number skipped meanwhile,
// so that a flood of bad messages does not flood the log.
const skipLogEvery = 10 * time.Second

type skipLog struct {
	last       time.Time
	suppressed int
}

func (fn *noDLQFn) Setup() {
	fn.pl = observe.Lookup(fn.Pipeline)
	fn.logged = map[string]*skipLog{}
	fn.skip = map[string]bool{}
	for _, s := range fn.Skip {
		fn.skip[s] = true
	}
	fn.rejected = beam.NewCounter("streams", "invalid_messages_skipped")
}

func (fn *noDLQFn) ProcessElement(ctx context.Context, v invalid) error {
	o := v.Origin
	if fn.skip[v.Step] {
		fn.rejected.Inc(ctx, 1)
		fn.pl.Skipped(v.Step, 1)
		l := fn.logged[v.Step]
		if l == nil {
			l = &skipLog{}
			fn.logged[v.Step] = l
		}
		if now := time.Now(); now.Sub(l.last) >= skipLogEvery {
			slog.WarnContext(ctx, "invalid message skipped (on_invalid: skip)",
				"step", v.Step, "topic", o.Topic, "partition", o.Partition, "offset", o.Offset, "error", v.Error,
				"skipped_since_last_log", l.suppressed)
			l.last, l.suppressed = now, 0
		} else {
			l.suppressed++
		}
		return nil
	}
	fn.pl.Rejected(observe.Rejection{Step: v.Step, Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, Error: v.Error, Fatal: true})
	return fmt.Errorf("step %s rejected the message at %s/%d offset %d: %s; "+
		"configure a dlq on the source step to send such messages there, or on_invalid: skip on step %s to drop them",
		v.Step, o.Topic, o.Partition, o.Offset, v.Error, v.Step)
}
