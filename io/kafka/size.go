package kafka

import "encoding/binary"

// batchOverhead is the size of a record batch without its records, plus
// the 4 bytes of the array length that franz-go counts against a batch's
// limit as well (kgo's recordBatchOverhead).
const batchOverhead = 65

// DefaultMaxRecordBytes is the producer's limit on a record batch, and so
// on one record, when neither [WriteConfig.MaxRecordBytes] nor the client
// properties set one: franz-go's default, which is Kafka's default
// max.message.bytes for a topic.
const DefaultMaxRecordBytes = 1_000_012

// BatchSize is the size in bytes of a record batch holding r alone,
// uncompressed: what a producer compares with its batch limit and a
// broker (for an uncompressed batch) with the topic's max.message.bytes.
// A record whose BatchSize exceeds the limit cannot be produced.
func (r Record) BatchSize() int {
	n := 1 + 1 + 1 // attributes, timestamp delta 0, offset delta 0
	n += bytesSize(r.Key) + bytesSize(r.Value)
	n += varintSize(int64(len(r.Headers)))
	for _, h := range r.Headers {
		n += varintSize(int64(len(h.Key))) + len(h.Key) + bytesSize(h.Value)
	}
	return batchOverhead + varintSize(int64(n)) + n
}

// bytesSize is the size of a record's length-prefixed byte field; nil is
// a Kafka null, length -1.
func bytesSize(b []byte) int {
	if b == nil {
		return varintSize(-1)
	}
	return varintSize(int64(len(b))) + len(b)
}

func varintSize(v int64) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutVarint(buf[:], v)
}
