package kafka_test

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"

	"github.com/streams-dev/streams/io/kafka"
)

// TestDecodeRecord checks that DecodeRecord reads what Beam's coder of
// Record writes for an element (less the length prefix of a custom
// coder), that the record's byte slices alias the input, and that it
// wants exactly one record.
func TestDecodeRecord(t *testing.T) {
	enc := exec.MakeElementEncoder(coder.CoderFrom(coder.LookupCustomCoder(reflect.TypeFor[kafka.Record]())))
	for _, r := range []kafka.Record{
		{},
		{Topic: "t", Partition: 3, Offset: 1 << 40, Key: []byte("k"), Value: []byte("v"), Timestamp: time.UnixMilli(1_700_000_000_123)},
		{Topic: "t", Key: []byte{}, Headers: []kafka.Header{{Key: "a"}, {Key: "a", Value: []byte{}}, {Key: "b", Value: []byte("x")}}},
		{Topic: "big", Value: bytes.Repeat([]byte("x"), 300), Timestamp: time.UnixMilli(5).In(time.FixedZone("x", 3600))},
	} {
		var buf bytes.Buffer
		if err := enc.Encode(&exec.FullValue{Elm: r}, &buf); err != nil {
			t.Fatal(err)
		}
		size, n := binary.Uvarint(buf.Bytes())
		b := buf.Bytes()[n:]
		if n <= 0 || size != uint64(len(b)) {
			t.Fatalf("record %+v: length prefix %d (%d bytes) for %d bytes", r, size, n, len(b))
		}
		got, err := kafka.DecodeRecord(b)
		if err != nil {
			t.Fatalf("record %+v: %v", r, err)
		}
		_, off := got.Timestamp.Zone()
		_, wantOff := r.Timestamp.Zone()
		if got.Topic != r.Topic || got.Partition != r.Partition || got.Offset != r.Offset ||
			!sameNullable(got.Key, r.Key) || !sameNullable(got.Value, r.Value) ||
			!got.Timestamp.Equal(r.Timestamp) || off != wantOff || len(got.Headers) != len(r.Headers) {
			t.Fatalf("decoded %+v, want %+v", got, r)
		}
		for i, h := range r.Headers {
			if got.Headers[i].Key != h.Key || !sameNullable(got.Headers[i].Value, h.Value) {
				t.Errorf("header %d: %+v, want %+v", i, got.Headers[i], h)
			}
		}
		if len(got.Value) > 0 {
			got.Value[0]++
			again, err := kafka.DecodeRecord(b)
			if err != nil || !bytes.Equal(again.Value, got.Value) {
				t.Errorf("record %+v: the value does not alias the input", r)
			}
		}
		if _, err := kafka.DecodeRecord(append(b[:len(b):len(b)], 0)); err == nil {
			t.Errorf("record %+v with a trailing byte: no error", r)
		}
		for i := range len(b) {
			if _, err := kafka.DecodeRecord(b[:i]); err == nil {
				t.Errorf("record %+v cut to %d of %d bytes: no error", r, i, len(b))
			}
		}
	}
}

func sameNullable(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }
