package wire

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestRoundTripAndTruncation(t *testing.T) {
	short := errors.New("short")
	b := AppendBytes(nil, "topic")
	b = binary.AppendVarint(b, -7)
	b = AppendBytes(b, []byte{})
	b = AppendBytes(b, []byte("v"))
	r := Reader{B: b, Short: short}
	if s, v, e, x := r.Text(), r.Varint(), r.Bytes(), r.Bytes(); s != "topic" || v != -7 || e != nil || string(x) != "v" || r.Err != nil || len(r.B) != 0 {
		t.Fatalf("got %q %d %v %q err %v rest %d", s, v, e, x, r.Err, len(r.B))
	}
	for i := range b {
		r := Reader{B: b[:i], Short: short}
		r.Text()
		r.Varint()
		r.Bytes()
		r.Bytes()
		if r.Err != short {
			t.Errorf("prefix of %d bytes: err %v, want the Short error", i, r.Err)
		}
	}
}
