package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// A Key is an order-preserving encoding of a tuple: a namespace byte, then
// fields appended with the methods below. Two keys built with the same
// field types compare, as bytes, in the order of their tuples, field by
// field; and a key built from a prefix of a tuple is a byte prefix of the
// keys of the longer tuples, so ranges and prefixes select what a runner
// needs (every window of a stage that ended before a time, every timer due
// by a time).
//
// Encodings:
//   - Bytes and Text: the bytes with 0x00 escaped as 0x00 0xFF, then the
//     terminator 0x00 0x01;
//   - Int64: 8 bytes big-endian with the sign bit flipped;
//   - Uint64: 8 bytes big-endian.
type Key []byte

// NewKey starts a key in namespace ns.
func NewKey(ns Namespace) Key { return Key{byte(ns)} }

// Namespace is the first byte of every key: what kind of state the key
// holds. The runner's kinds are listed in the package documentation.
type Namespace byte

// Namespaces of the runner's state.
const (
	NSMeta      Namespace = 'm' // store metadata: format version
	NSGroup     Namespace = 'g' // GroupByKey buffers
	NSUser      Namespace = 'u' // user state of stateful DoFns
	NSTimer     Namespace = 't' // event-time and processing-time timers
	NSHold      Namespace = 'h' // watermark holds
	NSWatermark Namespace = 'w' // stage watermarks
	NSSource    Namespace = 's' // source positions (committed offsets)
	NSQueue     Namespace = 'q' // elements queued between stages at a checkpoint
	NSTask      Namespace = 'p' // a source partition's task: its group, topic and partition, then a key of another namespace
	NSShuffle   Namespace = 'x' // a task's shuffle bookkeeping: a writer's numbers, a reader's marks
)

// Namespaces lists every namespace the runner uses, in key order.
var Namespaces = []Namespace{NSGroup, NSHold, NSMeta, NSTask, NSQueue, NSSource, NSTimer, NSUser, NSWatermark, NSShuffle}

func (ns Namespace) String() string {
	switch ns {
	case NSMeta:
		return "meta"
	case NSGroup:
		return "group"
	case NSUser:
		return "user"
	case NSTimer:
		return "timer"
	case NSHold:
		return "hold"
	case NSWatermark:
		return "watermark"
	case NSSource:
		return "source"
	case NSQueue:
		return "queue"
	case NSTask:
		return "task"
	case NSShuffle:
		return "shuffle"
	}
	return fmt.Sprintf("namespace(%q)", byte(ns))
}

// Sub appends a namespace byte: a key of namespace ns within k (a task's
// keys are its NSTask prefix followed by keys of other namespaces).
func (k Key) Sub(ns Namespace) Key { return append(k, byte(ns)) }

// Bytes appends a byte-string field.
func (k Key) Bytes(b []byte) Key {
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			k = append(k, b...)
			break
		}
		k = append(k, b[:i+1]...)
		k = append(k, 0xFF)
		b = b[i+1:]
	}
	return append(k, 0x00, 0x01)
}

// Text appends a string field.
func (k Key) Text(s string) Key {
	return k.Bytes([]byte(s))
}

// Int64 appends a signed integer field (a time in milliseconds, say).
func (k Key) Int64(v int64) Key {
	return binary.BigEndian.AppendUint64(k, uint64(v)^(1<<63))
}

// Uint64 appends an unsigned integer field.
func (k Key) Uint64(v uint64) Key {
	return binary.BigEndian.AppendUint64(k, v)
}

// PrefixEnd returns the smallest key greater than every key with prefix k,
// or nil when there is none (k is all 0xFF): the exclusive end of a scan or
// range deletion of the prefix.
func (k Key) PrefixEnd() Key {
	end := bytes.Clone(k)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// ErrMalformedKey is returned by a Reader that meets bytes its field does
// not fit.
var ErrMalformedKey = errors.New("state: malformed key")

// A Reader reads a key's fields back, in the order they were appended.
type Reader struct {
	rest []byte
	err  error
}

// Read returns a reader of k's fields. The namespace is read with
// Namespace.
func Read(k []byte) *Reader { return &Reader{rest: k} }

// Err is the first error met, if any.
func (r *Reader) Err() error { return r.err }

// Done says whether every byte was read, without error.
func (r *Reader) Done() bool { return r.err == nil && len(r.rest) == 0 }

func (r *Reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: reading %s", ErrMalformedKey, what)
	}
}

// Namespace reads the namespace byte.
func (r *Reader) Namespace() Namespace {
	if r.err != nil || len(r.rest) < 1 {
		r.fail("the namespace")
		return 0
	}
	ns := Namespace(r.rest[0])
	r.rest = r.rest[1:]
	return ns
}

// Bytes reads a byte-string field. The result is a new slice.
func (r *Reader) Bytes() []byte {
	if r.err != nil {
		return nil
	}
	var out []byte
	for i := 0; i < len(r.rest); i++ {
		if r.rest[i] != 0 {
			continue
		}
		if i+1 >= len(r.rest) {
			break
		}
		switch r.rest[i+1] {
		case 0x01:
			out = append(out, r.rest[:i]...)
			r.rest = r.rest[i+2:]
			if out == nil {
				out = []byte{}
			}
			return out
		case 0xFF:
			out = append(out, r.rest[:i+1]...)
			r.rest = r.rest[i+2:]
			i = -1
			continue
		}
		break
	}
	r.fail("a byte string")
	return nil
}

// Text reads a string field.
func (r *Reader) Text() string { return string(r.Bytes()) }

// Int64 reads a signed integer field.
func (r *Reader) Int64() int64 { return int64(r.Uint64() ^ (1 << 63)) }

// Uint64 reads an unsigned integer field.
func (r *Reader) Uint64() uint64 {
	if r.err != nil || len(r.rest) < 8 {
		r.fail("an integer")
		return 0
	}
	v := binary.BigEndian.Uint64(r.rest)
	r.rest = r.rest[8:]
	return v
}
