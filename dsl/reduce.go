package dsl

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Accumulator says how Reduce folds the messages of one key and window
// into a result: New makes an empty accumulator, Add adds a payload to
// it, Merge combines two (runners accumulate in parallel and merge, and
// merging session windows merges their accumulators), and Result turns
// it into the output value. Add and Merge may modify and return their
// first argument.
//
// Runners store and ship accumulators between processes, encoded as
// JSON: A must survive a JSON round trip (exported fields; no channels
// or functions).
//
// Count, Sum, Min, Max and Collect are ready-made accumulators.
type Accumulator[T, A, R any] struct {
	// New returns an empty accumulator. Nil means A's zero value.
	New func() A
	// Add adds one payload. Required.
	Add func(acc A, in T) A
	// Merge combines two accumulators. Required.
	Merge func(a, b A) A
	// Result is the value Reduce emits for a window. Required.
	Result func(acc A) R

	err error // a problem found when the accumulator was made
}

// Count counts the messages of each key and window.
func Count[T any]() Accumulator[T, int, int] {
	return Accumulator[T, int, int]{
		New:    func() int { return 0 },
		Add:    func(n int, _ T) int { return n + 1 },
		Merge:  func(a, b int) int { return a + b },
		Result: func(n int) int { return n },
	}
}

// Number is the constraint of the values Sum adds up.
type Number interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr |
		~float32 | ~float64
}

// Sum adds up value(payload) over each key and window. For a stream of
// numbers, value returns its argument.
func Sum[T any, N Number](value func(T) N) Accumulator[T, N, N] {
	if value == nil {
		return Accumulator[T, N, N]{err: nilFn("sum value")}
	}
	return Accumulator[T, N, N]{
		New:    func() N { return 0 },
		Add:    func(s N, in T) N { return s + value(in) },
		Merge:  func(a, b N) N { return a + b },
		Result: func(s N) N { return s },
	}
}

// Extremum is the accumulator of Min and Max: the extreme value so far,
// once Seen.
type Extremum[V cmp.Ordered] struct {
	Seen  bool `json:"seen"`
	Value V    `json:"value"`
}

// Min finds the smallest value(payload) of each key and window.
func Min[T any, V cmp.Ordered](value func(T) V) Accumulator[T, Extremum[V], V] {
	return extreme("min", value, func(a, b V) bool { return cmp.Less(a, b) })
}

// Max finds the largest value(payload) of each key and window.
func Max[T any, V cmp.Ordered](value func(T) V) Accumulator[T, Extremum[V], V] {
	return extreme("max", value, func(a, b V) bool { return cmp.Less(b, a) })
}

// extreme keeps the value for which better(value, kept) holds.
func extreme[T any, V cmp.Ordered](name string, value func(T) V, better func(a, b V) bool) Accumulator[T, Extremum[V], V] {
	if value == nil {
		return Accumulator[T, Extremum[V], V]{err: nilFn(name + " value")}
	}
	keep := func(e Extremum[V], v V) Extremum[V] {
		if !e.Seen || better(v, e.Value) {
			return Extremum[V]{Seen: true, Value: v}
		}
		return e
	}
	return Accumulator[T, Extremum[V], V]{
		New: func() Extremum[V] { return Extremum[V]{} },
		Add: func(e Extremum[V], in T) Extremum[V] { return keep(e, value(in)) },
		Merge: func(a, b Extremum[V]) Extremum[V] {
			if !b.Seen {
				return a
			}
			return keep(a, b.Value)
		},
		Result: func(e Extremum[V]) V { return e.Value },
	}
}

// Collect gathers the payloads of each key and window into a slice. The
// order of the slice is not defined: runners add and merge in parallel.
func Collect[T any]() Accumulator[T, []T, []T] {
	return Accumulator[T, []T, []T]{
		New:    func() []T { return nil },
		Add:    func(s []T, in T) []T { return append(s, in) },
		Merge:  func(a, b []T) []T { return append(a, b...) },
		Result: func(s []T) []T { return s },
	}
}

// ReduceOption configures Reduce. Make one with WithEventTime.
type ReduceOption[T any] interface{ applyReduce(*reduceConfig[T]) }

type reduceConfig[T any] struct {
	eventTime   func(T) time.Time
	partitioned bool
	problems    []string
}

type reduceOptionFunc[T any] func(*reduceConfig[T])

func (f reduceOptionFunc[T]) applyReduce(c *reduceConfig[T]) { f(c) }

// WithEventTime makes Reduce window each message by fn(payload) instead
// of the message timestamp (which is the Kafka record timestamp unless a
// step changed it). Event times are truncated to the millisecond. A
// message whose event time is behind the watermark when it arrives is
// late, and dropped.
func WithEventTime[T any](fn func(T) time.Time) ReduceOption[T] {
	return reduceOptionFunc[T](func(c *reduceConfig[T]) {
		if fn == nil {
			c.problems = append(c.problems, "event time function is nil")
		}
		c.eventTime = fn
	})
}

// KeyFollowsPartitioning declares that Reduce's key follows the source's
// partitioning: every message of a key comes from one partition of the
// Kafka source, as when the key is the Kafka record key (or is computed
// from the payload the same way the producer chose the record key) and
// the producer partitions by record key, as Kafka's default partitioner
// does.
//
// On the bundled runner the step's windows then belong to the partition
// (a task): they keep the event time of their own partition, move with
// it from process to process, and several processes in one consumer group
// give the windows of one. Without it the step's windows belong to the
// process. A key that does not follow the partitioning splits a key's
// window into one partial result per partition.
func KeyFollowsPartitioning[T any]() ReduceOption[T] {
	return reduceOptionFunc[T](func(c *reduceConfig[T]) { c.partitioned = true })
}

// Reduce aggregates the messages of each key in event-time windows:
// key(payload) chooses the key, window the windows, and acc how the
// payloads of one key and window become one value. ReduceAll aggregates
// all the messages of a window, without a key.
//
//	counts := events.Apply("count", dsl.Reduce(dsl.TumblingWindow(10*time.Second),
//		func(e Event) string { return e.User }, dsl.Count[Event]()))
//	// counts is a Stream[dsl.Windowed[string, int]]
//
// A window's result is emitted once, when the watermark (how far event
// time has progressed at the source) passes the window's end; messages
// that arrive after that are late and dropped. A count window
// (TumblingCountWindow, SlidingCountWindow) is emitted instead as soon as
// it holds its number of messages, whatever the watermark, and is never
// late; its Start and End span its messages' event times. The output message has
// the payload Windowed{Key, Start, End, Value}, the timestamp End minus
// one millisecond (the window's last instant, as in Beam), the key's bytes
// as its Kafka key when K is a string or []byte (no Kafka key
// otherwise), and no headers.
//
// Event time is the message timestamp unless WithEventTime gives a
// function. A key or event-time function that panics rejects that
// message, like a Map's error; an accumulator function that panics fails
// the pipeline, since no one message is to blame. Keys are compared by
// their JSON encoding and travel as JSON, so K must survive a JSON round
// trip.
func Reduce[T any, K comparable, A, R any](window Window, key func(T) K, acc Accumulator[T, A, R], opts ...ReduceOption[T]) Step[T, Windowed[K, R]] {
	cfg := applyReduceOptions(opts)
	if key == nil {
		cfg.problems = append(cfg.problems, "key function is nil")
	}
	r, err := newReducer(window, key, acc, cfg, func(k K, b Bounds, res R) Any {
		w := Windowed[K, R]{Key: k, Start: b.Start.UTC(), End: b.End.UTC(), Value: res}
		return Any{Payload: w, Key: keyBytes(k), Timestamp: w.End.Add(-time.Millisecond)}
	})
	if err != nil {
		return Step[T, Windowed[K, R]]{err: err}
	}
	return Step[T, Windowed[K, R]]{kind: KindReduce, reduce: r}
}

// WindowValue is the result of ReduceAll for one window: the window's
// bounds [Start, End) and the accumulator's result. Its JSON form is
// {"start": ..., "end": ..., "value": ...}, with times in RFC 3339, UTC.
type WindowValue[R any] struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Value R         `json:"value"`
}

// allKey is the one key of a ReduceAll step's messages: its JSON, {},
// is how it travels and is stored.
type allKey struct{}

// ReduceAll aggregates all the messages of each event-time window into
// one value, without a key: Sentry Streams' Reducer without a group_by.
// window chooses the windows and acc how their payloads become a value.
//
//	totals := events.Apply("total", dsl.ReduceAll(dsl.TumblingWindow(time.Minute),
//		dsl.Sum(func(e Event) int { return e.Amount })))
//	// totals is a Stream[dsl.WindowValue[int]]: Start, End, Value
//
// It is a Reduce (KindReduce) whose key is the same for every message,
// set by the step rather than written by the user: windows, event time
// (WithEventTime), lateness, the output's timestamp (End minus one
// millisecond) and the deployment config's keys are a Reduce's. The
// output message has the payload WindowValue{Start, End, Value}, no
// Kafka key and no headers. A SessionWindow's sessions are those of the
// whole stream: one ends when no message at all came for the gap.
//
// One key means one place does all the work: a runner aggregates every
// message of the step in one task. On the bundled runner, a ReduceAll
// fed by the source through map-like steps is shuffled as a Reduce keyed
// by a payload field is: every message goes to the same partition of
// the step's shuffle topic, and the one process holding that partition
// aggregates them all, whatever the number of processes (the others
// read, map and send). After another Reduce or a Batch, where no Reduce
// is shuffled, each process aggregates what its own tasks pass on: one
// value per process and window. KeyFollowsPartitioning does not apply
// (the one key spans every partition) and is a Build error.
func ReduceAll[T, A, R any](window Window, acc Accumulator[T, A, R], opts ...ReduceOption[T]) Step[T, WindowValue[R]] {
	cfg := applyReduceOptions(opts)
	if cfg.partitioned {
		cfg.problems = append(cfg.problems, "KeyFollowsPartitioning does not apply to ReduceAll: its one key spans every partition")
	}
	r, err := newReducer(window, func(T) allKey { return allKey{} }, acc, cfg, func(_ allKey, b Bounds, res R) Any {
		v := WindowValue[R]{Start: b.Start.UTC(), End: b.End.UTC(), Value: res}
		return Any{Payload: v, Timestamp: v.End.Add(-time.Millisecond)}
	})
	if err != nil {
		return Step[T, WindowValue[R]]{err: err}
	}
	return Step[T, WindowValue[R]]{kind: KindReduce, reduce: r}
}

func applyReduceOptions[T any](opts []ReduceOption[T]) reduceConfig[T] {
	var cfg reduceConfig[T]
	for _, o := range opts {
		if o != nil {
			o.applyReduce(&cfg)
		}
	}
	return cfg
}

// newReducer is the Reducer of Reduce and ReduceAll: key(payload) keys
// each message and result makes the output message of a key's window.
// With problems, in cfg or found here, it returns them all as one error.
func newReducer[T any, K comparable, A, R any](window Window, key func(T) K, acc Accumulator[T, A, R], cfg reduceConfig[T], result func(k K, b Bounds, res R) Any) (*Reducer, error) {
	problems := cfg.problems
	switch {
	case window.kind == 0:
		problems = append(problems, "no window; make one with TumblingWindow, SlidingWindow, SessionWindow, TumblingCountWindow or SlidingCountWindow")
	case window.err != nil:
		problems = append(problems, window.err.Error())
	}
	if acc.err != nil {
		problems = append(problems, acc.err.Error())
	}
	for _, f := range []struct {
		name string
		nil  bool
	}{{"Add", acc.Add == nil}, {"Merge", acc.Merge == nil}, {"Result", acc.Result == nil}} {
		if f.nil && acc.err == nil {
			problems = append(problems, fmt.Sprintf("the accumulator has no %s function", f.name))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	newAcc := acc.New
	if newAcc == nil {
		newAcc = func() A { var zero A; return zero }
	}
	r := &Reducer{
		partitioned: cfg.partitioned,
		window:      window,
		keyType:     typeOf[K](),
		accType:     typeOf[A](),
		key: func(in Any) (any, error) {
			p, err := as[T](in.Payload)
			if err != nil {
				return nil, err
			}
			return key(p), nil
		},
		newAcc: func() any { return newAcc() },
		add: func(a, in any) (any, error) {
			ta, err := as[A](a)
			if err != nil {
				return nil, err
			}
			p, err := as[T](in)
			if err != nil {
				return nil, err
			}
			return acc.Add(ta, p), nil
		},
		merge: func(a, b any) (any, error) {
			ta, err := as[A](a)
			if err != nil {
				return nil, err
			}
			tb, err := as[A](b)
			if err != nil {
				return nil, err
			}
			return acc.Merge(ta, tb), nil
		},
		output: func(k any, b Bounds, a any) (Any, error) {
			tk, err := as[K](k)
			if err != nil {
				return Any{}, err
			}
			ta, err := as[A](a)
			if err != nil {
				return Any{}, err
			}
			return result(tk, b, acc.Result(ta)), nil
		},
	}
	if cfg.eventTime != nil {
		r.eventTime = func(in Any) (time.Time, error) {
			p, err := as[T](in.Payload)
			if err != nil {
				return time.Time{}, err
			}
			return cfg.eventTime(p), nil
		}
	}
	return r, nil
}

// keyBytes is a Reduce key as a Kafka key, when it is text or bytes.
func keyBytes(k any) []byte {
	switch v := reflect.ValueOf(k); {
	case !v.IsValid():
		return nil
	case v.Kind() == reflect.String:
		return []byte(v.String())
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		return append([]byte(nil), v.Bytes()...)
	}
	return nil
}

// as asserts an erased value to T; nil is T's zero value.
func as[T any](v any) (T, error) {
	if v == nil {
		var zero T
		return zero, nil
	}
	t, ok := v.(T)
	if !ok {
		return t, fmt.Errorf("value is %T, step expects %T", v, t)
	}
	return t, nil
}

// Reducer is a Reduce step as runners see it, with its types erased.
// Every method recovers a panic of the user's function and returns it as
// an error: a *InvalidError naming the step from Key and EventTime (the
// message is rejected), a plain error naming the step from the others.
type Reducer struct {
	step             string
	partitioned      bool
	window           Window
	keyType, accType reflect.Type
	key              func(Any) (any, error)
	eventTime        func(Any) (time.Time, error) // nil: the message timestamp
	newAcc           func() any
	add              func(acc, in any) (any, error)
	merge            func(a, b any) (any, error)
	output           func(key any, b Bounds, acc any) (Any, error)
}

// KeyFollowsPartitioning reports whether the step's key follows the
// source's partitioning (see KeyFollowsPartitioning).
func (r *Reducer) KeyFollowsPartitioning() bool { return r.partitioned }

// HasEventTime reports whether the step takes event times from payloads
// (WithEventTime) rather than message timestamps.
func (r *Reducer) HasEventTime() bool { return r.eventTime != nil }

// Window says how the step windows messages.
func (r *Reducer) Window() Window { return r.window }

// KeyType is the type of the keys (K).
func (r *Reducer) KeyType() reflect.Type { return r.keyType }

// AccumulatorType is the type of the accumulators (A).
func (r *Reducer) AccumulatorType() reflect.Type { return r.accType }

// Key returns the key of message m.
func (r *Reducer) Key(m Any) (key any, err error) {
	defer r.reject(&err)
	return r.key(m)
}

// EventTime returns the time by which m is windowed: m.Timestamp, or
// what the WithEventTime function says.
func (r *Reducer) EventTime(m Any) (t time.Time, err error) {
	if r.eventTime == nil {
		return m.Timestamp, nil
	}
	defer r.reject(&err)
	return r.eventTime(m)
}

// NewAccumulator returns an empty accumulator.
func (r *Reducer) NewAccumulator() (acc any, err error) {
	defer r.fail("new accumulator", &err)
	return r.newAcc(), nil
}

// Add adds payload to acc and returns the accumulator.
func (r *Reducer) Add(acc, payload any) (_ any, err error) {
	defer r.fail("accumulator add", &err)
	return r.add(acc, payload)
}

// Merge merges b into a and returns the accumulator.
func (r *Reducer) Merge(a, b any) (_ any, err error) {
	defer r.fail("accumulator merge", &err)
	return r.merge(a, b)
}

// Output returns the message Reduce emits for key and the window b, with
// the accumulator acc: a Windowed payload, the timestamp b.End minus one
// millisecond, the key as Kafka key when it is text or bytes.
func (r *Reducer) Output(key any, b Bounds, acc any) (_ Any, err error) {
	defer r.fail("accumulator result", &err)
	return r.output(key, b, acc)
}

func (r *Reducer) reject(err *error) {
	if p := recover(); p != nil {
		*err = panicError(p)
	}
	if *err != nil {
		*err = &InvalidError{Step: r.step, Cause: *err}
	}
}

func (r *Reducer) fail(what string, err *error) {
	if p := recover(); p != nil {
		*err = panicError(p)
	}
	if *err != nil {
		*err = fmt.Errorf("step %s: %s: %w", r.step, what, *err)
	}
}
