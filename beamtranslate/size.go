package beamtranslate

import (
	"fmt"
	"strconv"

	"github.com/streams-dev/streams/io/kafka"
)

// Headers of a dead-letter record that had to be cut to fit its topic.
const (
	// HeaderDLQTruncated says what was cut: "value", or "value,key,headers"
	// when the original key and headers had to go too.
	HeaderDLQTruncated = HeaderDLQPrefix + "truncated"
	// HeaderDLQOriginalSize is the original value's length in bytes,
	// decimal.
	HeaderDLQOriginalSize = HeaderDLQPrefix + "original_size"
)

// maxDLQError bounds the cause carried in a header of a dead-letter
// record that had to be cut.
const maxDLQError = 1024

// tooLarge reports a record that its topic would refuse: its batch is
// larger than limit (0: no limit known).
func tooLarge(step, topic string, r kafka.Record, limit int32) error {
	if limit <= 0 {
		return nil
	}
	if n := r.BatchSize(); n > int(limit) {
		return fmt.Errorf("step %s: record too large: %d bytes (value %d bytes) for topic %s, which accepts %d (max.message.bytes, or the sink's message.max.bytes)",
			step, n, len(r.Value), topic, limit)
	}
	return nil
}

// fitDLQ returns r cut to fit a dead-letter topic that accepts limit
// bytes (0: r unchanged): its value truncated, with headers saying so and
// giving the original size; if that is not enough, the original key and
// headers dropped too, keeping the streams.dlq.* headers.
func fitDLQ(r kafka.Record, limit int32) kafka.Record {
	if limit <= 0 || r.BatchSize() <= int(limit) {
		return r
	}
	size := len(r.Value)
	mark := func(r kafka.Record, what string) kafka.Record {
		r.Headers = append(r.Headers[:len(r.Headers):len(r.Headers)],
			kafka.Header{Key: HeaderDLQTruncated, Value: []byte(what)},
			kafka.Header{Key: HeaderDLQOriginalSize, Value: []byte(strconv.Itoa(size))})
		return r
	}
	cut := mark(r, "value")
	if over := cut.BatchSize() - int(limit); over < len(r.Value) {
		cut.Value = r.Value[:len(r.Value)-over]
		for cut.BatchSize() > int(limit) { // a shorter length prefix is never longer
			cut.Value = cut.Value[:len(cut.Value)-1]
		}
		return cut
	}
	// The key and headers alone are too large: keep only ours, the cause
	// cut short.
	bare := kafka.Record{Value: []byte{}, Timestamp: r.Timestamp}
	for _, h := range r.Headers {
		if len(h.Key) > len(HeaderDLQPrefix) && h.Key[:len(HeaderDLQPrefix)] == HeaderDLQPrefix {
			if len(h.Value) > maxDLQError {
				h.Value = h.Value[:maxDLQError]
			}
			bare.Headers = append(bare.Headers, h)
		}
	}
	return mark(bare, "value,key,headers")
}
