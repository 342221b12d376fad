package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
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
	ts, err := r.Timestamp.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("kafka: record coder: timestamp: %w", err)
	}
	n := 1 + 3*binary.MaxVarintLen64 + len(r.Topic) + len(r.Key) + len(r.Value) + 2*binary.MaxVarintLen64 + len(ts) + 2*binary.MaxVarintLen64
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 2*binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, recordCoderVersion)
	b = appendString(b, r.Topic)
	b = binary.AppendVarint(b, int64(r.Partition))
	b = binary.AppendVarint(b, r.Offset)
	b = appendNullable(b, r.Key)
	b = appendNullable(b, r.Value)
	b = binary.AppendUvarint(b, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		b = appendString(b, h.Key)
		b = appendNullable(b, h.Value)
	}
	b = appendString(b, string(ts))
	return b, nil
}

func decodeRecord(b []byte) (Record, error) {
	d := decoder{b: b}
	if v := d.uvarint(); d.err == nil && v != recordCoderVersion {
		return Record{}, fmt.Errorf("kafka: record coder: unknown version %d", v)
	}
	var r Record
	r.Topic = d.string()
	r.Partition = int32(d.varint())
	r.Offset = d.varint()
	r.Key = d.nullable()
	r.Value = d.nullable()
	if nh := d.uvarint(); nh > 0 && d.err == nil {
		if nh > uint64(len(d.b)) { // each header takes at least one byte
			return Record{}, errShortRecord
		}
		r.Headers = make([]Header, nh)
		for i := range r.Headers {
			r.Headers[i].Key = d.string()
			r.Headers[i].Value = d.nullable()
		}
	}
	ts := d.bytes()
	if d.err != nil {
		return Record{}, d.err
	}
	if len(d.b) != 0 {
		return Record{}, fmt.Errorf("kafka: record coder: %d trailing bytes", len(d.b))
	}
	if err := r.Timestamp.UnmarshalBinary(ts); err != nil {
		return Record{}, fmt.Errorf("kafka: record coder: timestamp: %w", err)
	}
	return r, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendNullable(b, v []byte) []byte {
	if v == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

// decoder reads the layout above; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShortRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShortRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShortRecord
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte { return d.take(d.uvarint()) }

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) nullable() []byte {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	v := d.take(n - 1)
	if d.err != nil {
		return nil
	}
	// No copy: the SDK hands a custom decoder a slice of its own, read
	// fresh for each element (ioutilx.ReadN in exec's customDecoder), so
	// the record may keep subslices of it.
	if n == 1 {
		return []byte{} // empty, not null
	}
	return v[:len(v):len(v)]
}
