package dsl

import (
	"fmt"
	"strings"
)

// BatchParser decodes a batch of payloads (a Stream[[][]byte], as Batch
// makes of raw messages) into one batch of T, as Sentry Streams'
// BatchParser does, with the codec and schema options of Parser (and,
// like Parser, the source stream's codec and schema from the deployment
// config). Each payload that does not decode or breaks the schema is
// rejected on its own: it goes to the dead-letter queue as a message of
// its own, with its cause and its place in the batch, and the others go
// on as one batch, in their order. A batch with no valid payload sends
// nothing on.
//
//	events.Apply("batch", dsl.Batch[[]byte](100, time.Second)).
//		Apply("parse", dsl.BatchParser[Event]()) // Stream[[]Event]
func BatchParser[T any](opts ...ParserOption) Step[[][]byte, []T] {
	cfg := parserOptions(opts)
	d := &decoding{codec: cfg.codec, schema: cfg.schema != nil}
	d.make = func(c Codec, schema []byte) (processFn, error) {
		dec, err := newDecoder[T](c, schema)
		if err != nil {
			return nil, err
		}
		return batchParseFn(dec), nil
	}
	process, err := d.make(cfg.codec, cfg.schema)
	if err != nil {
		return Step[[][]byte, []T]{err: err}
	}
	return Step[[][]byte, []T]{kind: KindParser, process: process, decoding: d}
}

func batchParseFn[T any](dec decodeFunc[T]) processFn {
	return func(in Any, emit func(Any)) error {
		m, err := typed[[][]byte](in)
		if err != nil {
			return err
		}
		out := make([]T, 0, len(m.Payload))
		var bad []RejectedItem
		for i, raw := range m.Payload {
			v, err := dec(raw)
			if err != nil {
				bad = append(bad, RejectedItem{Index: i, Value: raw, Cause: err})
				continue
			}
			out = append(out, v)
		}
		if len(out) > 0 {
			emit(erase(retype(m, out)))
		}
		if len(bad) > 0 {
			return &ItemsError{Items: bad}
		}
		return nil
	}
}

// RejectedItem is one item of a batch message that a step rejected.
type RejectedItem struct {
	Index int    // its place in the batch, from 0
	Value []byte // the item as the step got it
	Cause error
}

func (r RejectedItem) Error() string { return fmt.Sprintf("item %d: %v", r.Index, r.Cause) }

// ItemsError is how a step that takes a batch (BatchParser) reports the
// items it rejected while it sent the rest on: runners send each item to
// the dead-letter queue as a message of its own, its Value as the
// record's value, with the step name and the item's cause.
type ItemsError struct {
	Items []RejectedItem
}

func (e *ItemsError) Error() string {
	msgs := make([]string, len(e.Items))
	for i, it := range e.Items {
		msgs[i] = it.Error()
	}
	return fmt.Sprintf("%d of the batch's items rejected: %s", len(e.Items), strings.Join(msgs, "; "))
}
