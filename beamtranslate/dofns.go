package beamtranslate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/observe"
)

// Beam requires every DoFn, emitter and element type to be registered
// before beam.Init, in every process that may run them; init is the one
// place where that is certain to happen. This is the only init with side
// effects in this file (reduce.go registers the Reduce and Batch DoFns
// the same way).
func init() {
	register.DoFn3x0[beam.EventTime, kafka.Record, func(beam.EventTime, element)](&fromRecordFn{})
	register.DoFn4x0[beam.EventTime, element, func(beam.EventTime, element), func(invalid)](&stepFn{})
	register.DoFn3x0[beam.EventTime, element, func(kafka.Record)](&toRecordFn{})
	register.DoFn2x0[context.Context, element](&devNullFn{})
	register.DoFn2x0[invalid, func(kafka.Record)](&dlqRecordFn{})
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

// fromRecordFn turns a source record into a message.
type fromRecordFn struct {
	Pipeline string `json:",omitempty"`
	Step     string `json:",omitempty"`

	counted
}

func (fn *fromRecordFn) Setup() { fn.counted.setup(fn.Pipeline, fn.Step) }

// FinishBundle declares the emitter because Beam requires it of a DoFn
// whose ProcessElement emits.
func (fn *fromRecordFn) FinishBundle(_ func(beam.EventTime, element)) { fn.counted.flush() }

func (fn *fromRecordFn) ProcessElement(ts beam.EventTime, r kafka.Record, emit func(beam.EventTime, element)) {
	fn.n++
	hs := dslHeaders(r.Headers)
	emit(ts, element{
		Payload: r.Value,
		Key:     r.Key,
		Headers: hs,
		Origin: origin{
			Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			Key: r.Key, Value: r.Value, Headers: hs,
		},
	})
}

// stepFn runs a chain of DSL transform steps, found by name. Each step's
// outputs go straight into the next step's function; only the last step's
// outputs are emitted.
type stepFn struct {
	Pipeline string
	Steps    []string
	// Routed is set on a branch's first step under a Router: it keeps only
	// the messages the router sent to it.
	Routed bool

	nodes []*dsl.Node
	emits []func(dsl.Any) // emits[i] takes the outputs of nodes[i]

	// Metrics: counts per step, flushed at the end of each bundle, and
	// the exclusive time of each step's call, sampled.
	pl     *observe.Pipeline // nil: metrics off
	steps  []*observe.Step
	counts []stepCounts
	seq    uint64
	timed  bool          // the element being processed is timed
	child  time.Duration // inclusive time of the calls nested in the current one

	// The element being processed.
	ts     beam.EventTime
	inTime time.Time
	origin origin
	out    func(beam.EventTime, element)
	bad    func(invalid)
}

func (fn *stepFn) Setup() error {
	fn.nodes = make([]*dsl.Node, len(fn.Steps))
	for i, step := range fn.Steps {
		n, err := lookup(fn.Pipeline, step)
		if err != nil {
			return err
		}
		fn.nodes[i] = n
	}
	fn.pl = observe.Lookup(fn.Pipeline)
	fn.steps = make([]*observe.Step, len(fn.Steps))
	for i, step := range fn.Steps {
		fn.steps[i] = fn.pl.Step(step)
	}
	fn.counts = make([]stepCounts, len(fn.Steps))
	fn.emits = make([]func(dsl.Any), len(fn.nodes))
	for i := range fn.nodes {
		if i < len(fn.nodes)-1 {
			next := i + 1
			fn.emits[i] = func(m dsl.Any) {
				fn.counts[i].out++
				fn.apply(next, m)
			}
			continue
		}
		fn.emits[i] = func(m dsl.Any) {
			fn.counts[i].out++
			t := fn.ts
			if !m.Timestamp.Equal(fn.inTime) {
				t = mtime.FromTime(m.Timestamp)
			}
			e := element{Payload: m.Payload, Key: m.Key, Headers: m.Headers, Origin: fn.origin}
			if !fn.timed {
				fn.out(t, e)
				return
			}
			// What runs downstream in the same bundle is no step's time.
			start := time.Now()
			fn.out(t, e)
			fn.child += time.Since(start)
		}
	}
	return nil
}

type stepCounts struct{ in, out, errors uint64 }

// FinishBundle adds the bundle's counts to the steps' metrics. (It
// declares the emitters because Beam requires it.)
func (fn *stepFn) FinishBundle(_ func(beam.EventTime, element), _ func(invalid)) {
	for i := range fn.counts {
		c := &fn.counts[i]
		fn.steps[i].Add(c.in, c.out, c.errors)
		*c = stepCounts{}
	}
}

func (fn *stepFn) ProcessElement(ts beam.EventTime, e element, emit func(beam.EventTime, element), bad func(invalid)) {
	if fn.Routed {
		if e.Branch != fn.Steps[0] {
			return
		}
		e.Branch = ""
	}
	fn.ts, fn.inTime, fn.origin, fn.out, fn.bad = ts, ts.ToTime(), e.Origin, emit, bad
	fn.timed = fn.pl != nil && fn.seq%observe.TimingSample == 0
	fn.seq++
	fn.apply(0, dsl.Any{Payload: e.Payload, Key: e.Key, Headers: e.Headers, Timestamp: fn.inTime})
}

// apply runs step i on m.
func (fn *stepFn) apply(i int, m dsl.Any) {
	fn.counts[i].in++
	if !fn.timed {
		fn.run(i, m)
		return
	}
	// The step's own time is its call's time less that of the calls
	// nested in it (the steps after it, which its emit runs).
	start := time.Now()
	outer := fn.child
	fn.child = 0
	fn.run(i, m)
	total := time.Since(start)
	fn.steps[i].Observe(total - fn.child)
	fn.child = outer + total
}

func (fn *stepFn) run(i int, m dsl.Any) {
	n := fn.nodes[i]
	if n.Kind() == dsl.KindRouter {
		// A router ends its chain: its output is tagged with the branch.
		branch, err := n.Route(m)
		if err != nil {
			fn.reject(i, err)
			return
		}
		fn.counts[i].out++
		fn.out(fn.ts, element{Payload: m.Payload, Key: m.Key, Headers: m.Headers, Branch: branch, Origin: fn.origin})
		return
	}
	if err := n.Process(m, fn.emits[i]); err != nil {
		fn.reject(i, err)
	}
}

func (fn *stepFn) reject(i int, err error) {
	fn.counts[i].errors++
	n := fn.nodes[i]
	step := n.Name()
	var inv *dsl.InvalidError
	if errors.As(err, &inv) {
		step = inv.Step
	}
	fn.bad(invalid{Step: step, Error: err.Error(), Origin: fn.origin})
}

// toRecordFn turns a message into a record for a Kafka sink.
type toRecordFn struct {
	Pipeline string `json:",omitempty"`
	Step     string

	counted
}

func (fn *toRecordFn) Setup() { fn.counted.setup(fn.Pipeline, fn.Step) }

func (fn *toRecordFn) FinishBundle(_ func(kafka.Record)) { fn.counted.flush() }

func (fn *toRecordFn) ProcessElement(ts beam.EventTime, e element, emit func(kafka.Record)) {
	fn.n++
	v, ok := e.Payload.([]byte)
	if !ok && e.Payload != nil {
		// The DSL's types make this unreachable; say so loudly if not.
		panic(fmt.Sprintf("beamtranslate: sink %s got a %T payload, want []byte", fn.Step, e.Payload))
	}
	var t time.Time // zero: the producer stamps the record
	if ts > mtime.MinTimestamp && ts < mtime.EndOfGlobalWindowTime {
		// Beam's sentinel times (after a global-window aggregation) are no
		// Kafka timestamps.
		t = ts.ToTime()
	}
	emit(kafka.Record{Key: e.Key, Value: v, Headers: kafkaHeaders(e.Headers, 0), Timestamp: t})
}

// devNullFn discards messages, counting them.
type devNullFn struct {
	Pipeline string `json:",omitempty"`
	Step     string `json:",omitempty"`

	discarded beam.Counter
	counted
}

func (fn *devNullFn) Setup() {
	fn.discarded = beam.NewCounter("streams", "devnull_messages")
	fn.counted.setup(fn.Pipeline, fn.Step)
}

func (fn *devNullFn) FinishBundle() { fn.counted.flush() }

func (fn *devNullFn) ProcessElement(ctx context.Context, _ element) {
	fn.n++
	fn.discarded.Inc(ctx, 1)
}

// dlqRecordFn turns a rejected message back into its source record, with
// headers that say who rejected it and why.
type dlqRecordFn struct {
	Pipeline string `json:",omitempty"`

	pl *observe.Pipeline
}

func (fn *dlqRecordFn) Setup() { fn.pl = observe.Lookup(fn.Pipeline) }

func (fn *dlqRecordFn) ProcessElement(v invalid, emit func(kafka.Record)) {
	fn.pl.DeadLettered(v.Step, 1)
	o := v.Origin
	hs := kafkaHeaders(o.Headers, 5)
	hs = append(hs,
		kafka.Header{Key: HeaderDLQStep, Value: []byte(v.Step)},
		kafka.Header{Key: HeaderDLQError, Value: []byte(v.Error)},
		kafka.Header{Key: HeaderDLQTopic, Value: []byte(o.Topic)},
		kafka.Header{Key: HeaderDLQPartition, Value: []byte(strconv.Itoa(int(o.Partition)))},
		kafka.Header{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(o.Offset, 10))},
	)
	emit(kafka.Record{Key: o.Key, Value: o.Value, Headers: hs})
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
	return fmt.Errorf("step %s rejected the message at %s/%d offset %d: %s; "+
		"configure a dlq on the source step to send such messages there, or on_invalid: skip on step %s to drop them",
		v.Step, o.Topic, o.Partition, o.Offset, v.Error, v.Step)
}
