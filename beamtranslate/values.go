package beamtranslate

import (
	"encoding/binary"
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/streams-dev/streams/internal/contract"
)

// The value hand-off of a Reduce's keyed messages (contract.ValueDoFn,
// contract.ValueCombineFn). On the encoded fast path a chain keying
// messages for a Reduce encodes each keyed message so that the runner
// can queue it, and the Reduce's CombineFn decodes its payload again to
// add it to an accumulator: the payload's encoding and decoding are a
// fifth of the windowed pipeline's CPU. A runner that adds the keyed
// messages to their accumulators as they come (the bundled runner's
// combining GroupByKey) asks instead for the messages as values, which
// reduceCombineFn adds as they are.
//
// A value is the message's payload, or, when the message keeps its
// source record (for the dead-letter queue of late messages), a *kept
// holding both (an *element if the message had more: a chain keying for
// a Reduce makes none). Only a payload whose encoding cannot fail goes
// as a value (raw bytes, a string, a plain data type: plain.go); any other
// is encoded at once as before, so that a payload the coder refuses is
// still refused in the step that made it.

var (
	_ contract.ValueDoFn      = (*recordKeyFn)(nil)
	_ contract.ValueDoFn      = (*keyStepFn)(nil)
	_ contract.ValueCombineFn = (*reduceCombineFn)(nil)
)

// EmitValues makes the chain hand the keyed messages of a Reduce (output
// 0) to emit, as values, rather than encode them: see above. Other
// outputs and a chain keying for a Batch keep their encoding.
func (c *chain) EmitValues(out int, emit func(beam.EventTime, []byte, any)) bool {
	if out != 0 || c.Reduce == "" || emit == nil {
		return false
	}
	c.values = emit
	return true
}

// AppendValue appends the encoding of a value the chain handed to
// EmitValues' emit: the element coder's, as the KV's value (its length,
// then the element).
func (c *chain) AppendValue(out int, dst []byte, value any) ([]byte, error) {
	if out != 0 {
		return nil, fmt.Errorf("beamtranslate: %s: no values on output %d", c.name(), out)
	}
	e := element{Payload: value}
	switch v := value.(type) {
	case *kept:
		e = element{Payload: v.payload, Origin: v.origin}
	case *element:
		e = *v
	}
	b, err := appendElement(nil, e)
	if err != nil {
		return nil, fmt.Errorf("beamtranslate: %s: encoding a keyed message: %w", c.name(), err)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...), nil
}

// value hands a keyed message to the runner as a value when its payload
// encodes without fail, and encodes it (o.kv) otherwise.
func (o *encodedOut) value(ts beam.EventTime, key string, e element) {
	if !o.plain.infallible(e.Payload) {
		o.kv(ts, key, e)
		return
	}
	var v any = e.Payload
	switch {
	case e.Key != nil || e.Headers != nil || e.Branch != "":
		c := e // a copy: taking e's address would move every e to the heap
		v = &c
	case e.Origin != nil:
		v = &kept{payload: e.Payload, origin: e.Origin}
	}
	o.key = binary.AppendUvarint(o.key[:0], uint64(len(key)))
	o.key = append(o.key, key...)
	o.values(ts, o.key, v)
}

// plainCache answers whether a payload's encoding cannot fail, keeping
// the answer for the last type asked about (a step's payloads mostly
// share theirs).
type plainCache struct {
	t     reflect.Type
	plain bool
}

func (c *plainCache) infallible(p any) bool {
	switch p.(type) {
	case nil, []byte, string:
		return true
	}
	t := reflect.TypeOf(p)
	if t != c.t {
		c.t, c.plain = t, infoOf(t).plain != nil
	}
	return c.plain
}

// AddValueInput adds a value a keying chain handed to the runner (see
// above) to an accumulator, as AddInput adds the element holding it.
func (fn *reduceCombineFn) AddValueInput(acc any, value any) (any, error) {
	switch v := value.(type) {
	case *kept:
		return fn.addPayload(acc, v.payload)
	case *element:
		return fn.addPayload(acc, v.Payload)
	}
	return fn.addPayload(acc, value)
}

// kept is a keyed message's value with its source record: a quarter of
// an element's size, since a value is kept for every message in flight.
type kept struct {
	payload any
	origin  *origin
}
