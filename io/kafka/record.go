package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/internal/wire"
)

// Header is one Kafka record header. Keys may repeat within a record.
type Header struct {
	Key   string
	Value []byte
}

// Record is one Kafka record, the element type of the PCollection [Read]
// returns and [Write] consumes.
//
// Read fills every field. Write uses Topic (or [WriteConfig.Topic] when
// Topic is empty), Key, Value, Headers and Timestamp (the producer's clock
// when zero); it ignores Partition and Offset, because the producer's
// partitioner picks the partition from the key and the broker assigns the
// offset.
//
// A nil Key or Value is a Kafka null, distinct from an empty one, and the
// distinction survives Beam's coder and the write.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
}

// fromKgo converts a fetched franz-go record. The byte slices are not
// copied: franz-go hands them over to the caller.
func fromKgo(r *kgo.Record) Record {
	out := Record{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Key:       r.Key,
		Value:     r.Value,
		Timestamp: r.Timestamp,
	}
	if len(r.Headers) > 0 {
		out.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			out.Headers[i] = Header{Key: h.Key, Value: h.Value}
		}
	}
	return out
}

// toKgo converts a record for producing to topic.
func (r Record) toKgo(topic string) *kgo.Record {
	out := &kgo.Record{
		Topic:     topic,
		Key:       r.Key,
		Value:     r.Value,
		Timestamp: r.Timestamp,
	}
	if len(r.Headers) > 0 {
		out.Headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, h := range r.Headers {
			out.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return out
}

// The Beam coder of Record.
//
// Beam's schema (row) coder cannot carry time.Time, whose fields are
// unexported, and cannot tell a nil byte slice from an empty one, so Record
// has its own coder, registered in register.go. Layout, all integers
// varint-encoded:
//
//	version(=1) topic partition offset key value nheaders {key value}* timestamp
//
// A string is its length then its bytes. A byte slice that may be nil is
// its length plus one then its bytes, with 0 standing for nil. The
// timestamp is time.Time.MarshalBinary, length-prefixed, so the instant and
// the zone offset both round-trip.
const recordCoderVersion = 1

var errShortRecord = errors.New("kafka: record coder: truncated input")

func encodeRecord(r Record) ([]byte, error) {
	n := 1 + 3*binary.MaxVarintLen64 + len(r.Topic) + len(r.Key) + len(r.Value) + 2*binary.MaxVarintLen64 + 16 + 2*binary.MaxVarintLen64
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 2*binary.MaxVarintLen64
	}
	return appendRecord(make([]byte, 0, n), &r)
}

// appendRecord appends the record coder's encoding of r to b.
func appendRecord(b []byte, r *Record) ([]byte, error) {
	var tsBuf [32]byte
	ts, err := r.Timestamp.AppendBinary(tsBuf[:0])
	if err != nil {
		return nil, fmt.Errorf("kafka: record coder: timestamp: %w", err)
	}
	return appendRecordTS(b, r, ts), nil
}

// recordSize is the length of the record coder's encoding of r, whose
// timestamp is tsLen bytes in binary.
func recordSize(r *Record, tsLen int) int {
	n := uvarintLen(recordCoderVersion) + bytesLen(len(r.Topic)) +
		varintLen(int64(r.Partition)) + varintLen(r.Offset) +
		nullableLen(r.Key) + nullableLen(r.Value) + uvarintLen(uint64(len(r.Headers)))
	for _, h := range r.Headers {
		n += bytesLen(len(h.Key)) + nullableLen(h.Value)
	}
	return n + bytesLen(tsLen)
}

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func varintLen(v int64) int { return uvarintLen(uint64(v<<1) ^ uint64(v>>63)) }

func bytesLen(n int) int { return uvarintLen(uint64(n)) + n }

func nullableLen(v []byte) int {
	if v == nil {
		return 1
	}
	return bytesLen(len(v)+1) - 1
}

// appendRecordTS appends the record coder's encoding of r, whose
// timestamp in binary is ts, to b.
func appendRecordTS(b []byte, r *Record, ts []byte) []byte {
	b = binary.AppendUvarint(b, recordCoderVersion)
	b = wire.AppendBytes(b, r.Topic)
	b = binary.AppendVarint(b, int64(r.Partition))
	b = binary.AppendVarint(b, r.Offset)
	b = appendNullable(b, r.Key)
	b = appendNullable(b, r.Value)
	b = binary.AppendUvarint(b, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		b = wire.AppendBytes(b, h.Key)
		b = appendNullable(b, h.Value)
	}
	b = wire.AppendBytes(b, ts)
	return b
}

// decodeRecord is the decoding function registered for the Record coder
// (register.go).
func decodeRecord(b []byte) (Record, error) { return DecodeRecord(b) }

// DecodeRecord is the Record coder's decoding of b, which must hold
// exactly one record: the bytes the coder's encoding function writes, as
// Beam passes them to it (without the length prefix of the element
// encoding). It is exported for the fast paths of other packages' DoFns
// that read encoded records themselves. The record's byte slices (Key,
// Value, header values) alias b.
func DecodeRecord(b []byte) (Record, error) {
	d := decoder{wire.Reader{B: b, Short: errShortRecord}}
	if v := d.Uvarint(); d.Err == nil && v != recordCoderVersion {
		return Record{}, fmt.Errorf("kafka: record coder: unknown version %d", v)
	}
	var r Record
	r.Topic = d.topic()
	r.Partition = int32(d.Varint())
	r.Offset = d.Varint()
	r.Key = d.nullable()
	r.Value = d.nullable()
	if nh := d.Uvarint(); nh > 0 && d.Err == nil {
		if nh > uint64(len(d.B)) { // each header takes at least one byte
			return Record{}, errShortRecord
		}
		r.Headers = make([]Header, nh)
		for i := range r.Headers {
			r.Headers[i].Key = d.Text()
			r.Headers[i].Value = d.nullable()
		}
	}
	ts := d.Bytes()
	if d.Err != nil {
		return Record{}, d.Err
	}
	if len(d.B) != 0 {
		return Record{}, fmt.Errorf("kafka: record coder: %d trailing bytes", len(d.B))
	}
	if err := r.Timestamp.UnmarshalBinary(ts); err != nil {
		return Record{}, fmt.Errorf("kafka: record coder: timestamp: %w", err)
	}
	return r, nil
}

func appendNullable(b, v []byte) []byte {
	if v == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

// decoder reads the layout above; the first error sticks.
type decoder struct{ wire.Reader }

// lastTopic is the topic of the last record decoded: records come in
// runs of one topic, whose name then costs no allocation per record.
var lastTopic atomic.Pointer[string]

func (d *decoder) topic() string {
	b := d.Bytes()
	if p := lastTopic.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	lastTopic.Store(&s)
	return s
}

func (d *decoder) nullable() []byte {
	n := d.Uvarint()
	if n == 0 || d.Err != nil {
		return nil
	}
	v := d.Take(n - 1)
	if d.Err != nil {
		return nil
	}
	// No copy: the SDK hands a custom decoder a slice of its own, read
	// fresh for each element (ioutilx.ReadN in exec's customDecoder), so
	// the record may keep subslices of it.
	if n == 1 {
		return []byte{} // empty, not null
	}
	return v
}
