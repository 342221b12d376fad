// Package wire is the varint-framed byte layout shared by the project's
// Beam coders (io/kafka's Record coder, beamtranslate's element coder):
// length-prefixed byte strings and varints, read back by a Reader whose
// first error sticks.
package wire

import "encoding/binary"

// AppendBytes appends v prefixed with its length as a uvarint.
func AppendBytes[T ~string | ~[]byte](b []byte, v T) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Reader reads what the Append functions and binary.Append(U)varint
// wrote. After the first error every read returns a zero value; Err holds
// that error.
type Reader struct {
	B   []byte
	Err error
	// Short is the error for truncated input, so each coder reports its
	// own.
	Short error
}

// Uvarint reads a uvarint.
func (r *Reader) Uvarint() uint64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.Err = r.Short
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Varint reads a varint.
func (r *Reader) Varint() int64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Varint(r.B)
	if n <= 0 {
		r.Err = r.Short
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Take returns the next n bytes (nil for none), a subslice of the input
// capped at its length.
func (r *Reader) Take(n uint64) []byte {
	if r.Err != nil {
		return nil
	}
	if n > uint64(len(r.B)) {
		r.Err = r.Short
		return nil
	}
	if n == 0 {
		return nil
	}
	v := r.B[:n:n]
	r.B = r.B[n:]
	return v
}

// Bytes reads a length-prefixed byte string (nil when empty).
func (r *Reader) Bytes() []byte { return r.Take(r.Uvarint()) }

// Text reads a length-prefixed string.
func (r *Reader) Text() string { return string(r.Bytes()) }
