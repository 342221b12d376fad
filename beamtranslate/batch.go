package beamtranslate

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/wire"
)

// BatchBinding is the deployment config's say on a Batch step: its
// batch_size and batch_timedelta. Zero keeps the step's own value.
type BatchBinding struct {
	Size    int
	MaxWait time.Duration
}

// A Batch step becomes, in its scope, batchKeyFn (element -> KV<batch
// key, element>: the source partition, or the message key; a chain of
// steps before it, or the source, keys its messages itself) and batchFn,
// a stateful DoFn that buffers each key's messages and emits them as one
// message when the batch is full or its processing-time timer fires.
func (t *translator) batch(n *dsl.Node, in beam.PCollection) error {
	s := t.stepScope(n)
	keyed := beam.ParDo(s, &batchKeyFn{PerKey: n.Batcher().PerKey()}, in)
	return t.batchKeyed(s, n, keyed)
}

// batchKeyed goes on from a Batch step's messages keyed by batch
// (batchKeyFn, or a chain's DoFn that keys them itself).
func (t *translator) batchKeyed(s beam.Scope, n *dsl.Node, keyed beam.PCollection) error {
	bt := n.Batcher()
	size, wait := bt.Size(), bt.MaxWait()
	if o, ok := t.b.Batches[n.Name()]; ok {
		if o.Size > 0 {
			size = o.Size
		}
		if o.MaxWait > 0 {
			wait = o.MaxWait
		}
	}
	if size < 0 || wait < 0 || (size == 0 && wait == 0) {
		return fmt.Errorf("beamtranslate: batch %s: needs a positive size or wait; got %d and %v", n.Name(), size, wait)
	}
	out := beam.ParDo(s, &batchFn{
		Pipeline: t.id,
		Step:     n.Name(),
		Size:     int64(size),
		MaxWait:  wait,
		PerKey:   bt.PerKey(),
		Buffer:   state.MakeBagState[[]byte]("buffer"),
		Meta:     state.MakeValueState[[]byte]("meta"),
		Flush:    timers.InProcessingTime("flush"),
	}, keyed)
	return t.children(n, out)
}

// Experiments returns the Beam experiments a runner should be started
// with to run g, whose component sinks are among sinks (none given:
// BuiltinSinks), correctly: prism_disable_sdf_split when g has a Batch
// step, a count-windowed Reduce or a Stateful sink (a blob sink). Prism (v2.77) splits slow
// bundles of any stage, and when it splits a stateful stage's bundle it releases the keys of the residual
// elements although the primary still holds elements of those keys, so
// two bundles of one key run at once and one overwrites the other's
// state (batches lose messages). The experiment turns those splits off;
// the Kafka read refuses runner-initiated splits anyway. Other runners
// ignore it.
func Experiments(g *dsl.Graph, sinks ...Sink) []string {
	if sinks == nil {
		sinks = BuiltinSinks()
	}
	for _, n := range g.Nodes() {
		countWindow := n.Kind() == dsl.KindReduce && n.Reducer().Window().IsCount()
		c, _ := findSink(sinks, n.SinkKind())
		if n.Kind() == dsl.KindBatch || c.Stateful || countWindow {
			return []string{"prism_disable_sdf_split"}
		}
	}
	return nil
}

// batchKeyFn keys each message by the batch it belongs to. It runs where
// no chain of steps precedes the Batch (a Reduce or a Batch does);
// otherwise the chain's DoFn keys its outputs itself (keyStepFn,
// recordKeyFn).
type batchKeyFn struct {
	PerKey bool
}

func (fn *batchKeyFn) ProcessElement(ts beam.EventTime, e element, emit func(beam.EventTime, string, element)) {
	emit(ts, batchKey(fn.PerKey, e), e)
}

// batchKey is the key of the batch message e belongs to: its message key
// (perKey), or its source record's partition.
func batchKey(perKey bool, e element) string {
	if perKey {
		return "k" + string(e.Key)
	}
	// Messages made by a Reduce have no source record: partition 0.
	return "p" + strconv.Itoa(int(e.Origin.value().Partition))
}

// batchFn buffers the messages of one batch key in state, and emits them
// as one message when Size have come or when the first of them has waited
// MaxWait. The batch message takes the newest event time of its
// messages; until it is out, the timer holds the output watermark at the
// first one's.
//
// The timer is never cleared: clearing a processing-time timer makes
// prism (v2.77) fire it at once. A timer that fires for a batch already
// sent by size finds an empty buffer, or a newer batch whose deadline is
// still ahead (the timer is then set again for it).
type batchFn struct {
	Pipeline string
	Step     string
	Size     int64         // 0: no size bound
	MaxWait  time.Duration // 0: no time bound
	PerKey   bool

	Buffer state.Bag[[]byte]     // the messages, element-encoded
	Meta   state.Value[[]byte]   // batchMeta, encoded
	Flush  timers.ProcessingTime // set when a batch starts, if MaxWait > 0

	b *dsl.Batcher
}

// batchMeta describes the batch being buffered.
type batchMeta struct {
	count    int64
	first    int64 // the first message's event time, Unix ms
	newest   int64 // the newest event time, Unix ms
	deadline int64 // when the batch is due by time, Unix ms of processing time; 0: never
}

func (m batchMeta) encode() []byte {
	b := binary.AppendVarint(nil, m.count)
	b = binary.AppendVarint(b, m.first)
	b = binary.AppendVarint(b, m.newest)
	return binary.AppendVarint(b, m.deadline)
}

func decodeBatchMeta(b []byte) (batchMeta, error) {
	r := wire.Reader{B: b, Short: errShort}
	m := batchMeta{count: r.Varint(), first: r.Varint(), newest: r.Varint(), deadline: r.Varint()}
	return m, r.Err
}

func (fn *batchFn) Setup() error {
	n, err := lookup(fn.Pipeline, fn.Step)
	if err != nil {
		return err
	}
	if fn.b = n.Batcher(); fn.b == nil {
		return fmt.Errorf("beamtranslate: step %q of pipeline %q is a %s, not a batch", fn.Step, fn.Pipeline, n.Kind())
	}
	return nil
}

func (fn *batchFn) meta(sp state.Provider) (batchMeta, error) {
	b, ok, err := fn.Meta.Read(sp)
	if err != nil || !ok {
		return batchMeta{}, err
	}
	return decodeBatchMeta(b)
}

func (fn *batchFn) ProcessElement(ts beam.EventTime, sp state.Provider, tp timers.Provider, _ string, e element, emit func(beam.EventTime, element)) error {
	m, err := fn.meta(sp)
	if err != nil {
		return err
	}
	enc, err := encodeElement(element{Payload: e.Payload, Key: e.Key})
	if err != nil {
		return err
	}
	if err := fn.Buffer.Add(sp, enc); err != nil {
		return err
	}
	m.count++
	if m.count == 1 {
		m.first, m.newest = int64(ts), int64(ts)
		if fn.MaxWait > 0 {
			m.deadline = time.Now().Add(fn.MaxWait).UnixMilli()
			fn.Flush.Set(tp, time.UnixMilli(m.deadline), timers.WithOutputTimestamp(ts.ToTime()))
		}
	} else if int64(ts) > m.newest {
		m.newest = int64(ts)
	}
	if fn.Size > 0 && m.count >= fn.Size {
		return fn.flush(sp, m, emit)
	}
	return fn.Meta.Write(sp, m.encode())
}

func (fn *batchFn) OnTimer(_ context.Context, sp state.Provider, tp timers.Provider, _ string, _ timers.Context, emit func(beam.EventTime, element)) error {
	m, err := fn.meta(sp)
	if err != nil || m.count == 0 {
		return err
	}
	if time.Now().UnixMilli() < m.deadline {
		// The timer of an earlier batch, sent by size.
		fn.Flush.Set(tp, time.UnixMilli(m.deadline), timers.WithOutputTimestamp(mtime.Time(m.first).ToTime()))
		return nil
	}
	return fn.flush(sp, m, emit)
}

// flush emits the buffered batch and empties the buffer.
func (fn *batchFn) flush(sp state.Provider, m batchMeta, emit func(beam.EventTime, element)) error {
	encs, _, err := fn.Buffer.Read(sp)
	if err != nil {
		return err
	}
	payloads := make([]any, len(encs))
	var key []byte
	for i, enc := range encs {
		e, err := decodeElement(enc)
		if err != nil {
			return fmt.Errorf("beamtranslate: step %s: buffered message: %w", fn.Step, err)
		}
		payloads[i] = e.Payload
		if i == 0 && fn.PerKey {
			key = e.Key
		}
	}
	batch, err := fn.b.Batch(payloads)
	if err != nil {
		return err
	}
	emit(mtime.Time(m.newest), element{Payload: batch, Key: key})
	if err := fn.Buffer.Clear(sp); err != nil {
		return err
	}
	return fn.Meta.Clear(sp)
}
