package kafka

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/twmb/franz-go/pkg/kgo"
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

// AppendRecordElement writes what Beam's coder of the Record type writes
// for RecordFromKgo: the native source relies on it.
func TestAppendRecordElementIsTheCodersEncoding(t *testing.T) {
	enc := exec.MakeElementEncoder(coder.CoderFrom(coder.LookupCustomCoder(reflect.TypeFor[Record]())))
	for _, r := range []*kgo.Record{
		{Topic: "events", Partition: 3, Offset: 12345, Key: []byte("k"), Value: []byte(`{"a":1}`), Timestamp: time.UnixMilli(1_700_000_000_123)},
		{Topic: "t", Value: []byte{}, Timestamp: time.UnixMilli(5).In(time.FixedZone("x", 3600))},
		{Topic: "t", Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "nil"}}, Timestamp: time.Unix(0, 0)},
		{Topic: "big", Value: bytes.Repeat([]byte("x"), 20_000), Timestamp: time.UnixMilli(1)}, // a 3-byte length prefix
		{Topic: "mid", Value: bytes.Repeat([]byte("y"), 300), Timestamp: time.UnixMilli(1)},    // a 2-byte one
	} {
		var want bytes.Buffer
		if err := enc.Encode(&exec.FullValue{Elm: RecordFromKgo(r)}, &want); err != nil {
			t.Fatal(err)
		}
		got, err := AppendRecordElement([]byte("prefix"), r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[len("prefix"):], want.Bytes()) || string(got[:len("prefix")]) != "prefix" {
			t.Errorf("record of topic %s: %d bytes, want the coder's %d", r.Topic, len(got)-len("prefix"), want.Len())
		}
	}
}

// recordSize is the length appendRecord writes, over lengths and numbers
// that cross the varints' byte boundaries.
func TestRecordSize(t *testing.T) {
	lens := []int{-1, 0, 1, 126, 127, 128, 16383, 16384}
	nums := []int64{0, -1, 63, 64, -65, 1 << 20, -(1 << 40), 1<<62 + 7}
	blob := func(n int) []byte {
		if n < 0 {
			return nil
		}
		return bytes.Repeat([]byte("z"), n)
	}
	for i, kl := range lens {
		for j, n := range nums {
			r := Record{Topic: string(blob(max(lens[(i+j)%len(lens)], 0))), Partition: int32(n), Offset: n,
				Key: blob(kl), Value: blob(lens[(i+3*j)%len(lens)]), Timestamp: time.Unix(n%1e9, 0)}
			if j%2 == 0 {
				r.Headers = []Header{{Key: string(blob(max(kl, 0))), Value: blob(lens[j%len(lens)])}, {Key: "k"}}
			}
			b, err := appendRecord(nil, &r)
			if err != nil {
				t.Fatal(err)
			}
			ts, _ := r.Timestamp.MarshalBinary()
			if got := recordSize(&r, len(ts)); got != len(b) {
				t.Errorf("key %d, number %d: recordSize %d, appendRecord wrote %d", kl, n, got, len(b))
			}
		}
	}
}
