package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/io/kafka"
)

// BatchSize is exactly the size franz-go's producer holds against its
// batch limit: a record passes with the limit at its BatchSize and fails
// with MESSAGE_TOO_LARGE one byte below.
func TestBatchSizeIsTheProducersMeasure(t *testing.T) {
	t.Parallel()
	cfg := cluster(t, 1, "t")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range []kafka.Record{
		{Value: bytes.Repeat([]byte("v"), 1_000)},
		{Key: []byte("key"), Value: bytes.Repeat([]byte("v"), 70_000), Headers: []kafka.Header{{Key: "h", Value: []byte("x")}, {Key: "nil"}}},
		{Key: []byte{}, Value: nil, Headers: []kafka.Header{{Key: "big", Value: bytes.Repeat([]byte("h"), 600)}}},
	} {
		n := int32(r.BatchSize())
		for _, limit := range []int32{n, n - 1} {
			cl := client(t, cfg, kgo.ProducerBatchMaxBytes(max(limit, 512)), kgo.DefaultProduceTopic("t"))
			kr := &kgo.Record{Key: r.Key, Value: r.Value}
			for _, h := range r.Headers {
				kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
			err := cl.ProduceSync(ctx, kr).FirstErr()
			cl.Close()
			if limit < 512 {
				continue // franz-go's floor
			}
			if tooBig := errors.Is(err, kerr.MessageTooLarge); tooBig != (limit < n) || (err != nil && !tooBig) {
				t.Errorf("record of BatchSize %d, limit %d: %v", n, limit, err)
			}
		}
	}
}
