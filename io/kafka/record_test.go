package kafka

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
)

func recordsEqual(a, b Record) bool {
	if a.Topic != b.Topic || a.Partition != b.Partition || a.Offset != b.Offset ||
		!nullableEqual(a.Key, b.Key) || !nullableEqual(a.Value, b.Value) ||
		!a.Timestamp.Equal(b.Timestamp) || len(a.Headers) != len(b.Headers) {
		return false
	}
	_, ao := a.Timestamp.Zone()
	_, bo := b.Timestamp.Zone()
	if ao != bo {
		return false
	}
	for i := range a.Headers {
		if a.Headers[i].Key != b.Headers[i].Key || !nullableEqual(a.Headers[i].Value, b.Headers[i].Value) {
			return false
		}
	}
	return true
}

func nullableEqual(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// TestRecordCoder round-trips records through the coder Beam uses for
// Record: nil and empty byte slices stay apart, headers keep their order
// and duplicates, and timestamps keep their instant and zone offset.
func TestRecordCoder(t *testing.T) {
	if c := coder.LookupCustomCoder(reflect.TypeFor[Record]()); c == nil {
		t.Fatal("no custom coder registered for Record")
	}
	tests := []Record{
		{},
		{Topic: "t", Partition: 3, Offset: 1 << 40, Key: []byte("k"), Value: []byte("v"), Timestamp: time.UnixMilli(1_700_000_000_123)},
		{Key: []byte{}, Value: nil, Headers: []Header{{Key: "a", Value: nil}, {Key: "a", Value: []byte{}}, {Key: "", Value: []byte("x")}}},
		{Partition: -1, Offset: -1, Timestamp: time.Date(2024, 2, 29, 23, 59, 59, 999_999_999, time.FixedZone("X", -(3*3600+30*60)))},
		{Timestamp: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, r := range tests {
		b, err := encodeRecord(r)
		if err != nil {
			t.Fatalf("encode %+v: %v", r, err)
		}
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("decode %+v: %v", r, err)
		}
		if !recordsEqual(got, r) {
			t.Errorf("round trip of %+v gave %+v", r, got)
		}
		for n := range len(b) {
			if _, err := decodeRecord(b[:n]); err == nil {
				t.Errorf("decoding %d of %d bytes of %+v: no error", n, len(b), r)
			}
		}
	}
}

// FuzzRecordCoder checks that decoding never panics, and that what decodes
// encodes back to the same record.
func FuzzRecordCoder(f *testing.F) {
	for _, r := range []Record{{}, {Topic: "t", Key: []byte("k"), Headers: []Header{{Key: "h"}}, Timestamp: time.UnixMilli(5)}} {
		b, _ := encodeRecord(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		b2, err := encodeRecord(r)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", r, err)
		}
		r2, err := decodeRecord(b2)
		if err != nil || !recordsEqual(r, r2) {
			t.Fatalf("re-decode gave %+v, %v; want %+v", r2, err, r)
		}
	})
}
