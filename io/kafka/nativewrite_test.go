package kafka

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestNativeWrite: what a runner executing a Write itself gets: the
// write's configuration from its DoFn, the record it produces for an
// element encoded as Beam's Record coder writes it (its topic or the
// write's; none is ErrNoTopic), the bytes the element took, and errors
// labelled as the DoFn labels them.
func TestNativeWrite(t *testing.T) {
	fn := &writeFn{Client: ClientConfig{Brokers: []string{"k:9092"}, Properties: map[string]string{"message.timeout.ms": "1500"}},
		Topic: "out", Observer: "obs", MaxRecordBytes: 2048, Label: "sink step s"}
	cfg, ok := WriteTransformConfig(fn)
	if !ok || cfg.Topic != "out" || cfg.Label != "sink step s" || cfg.MaxRecordBytes != 2048 || cfg.Observer != "obs" {
		t.Fatalf("WriteTransformConfig: %+v, %v", cfg, ok)
	}
	if _, ok := WriteTransformConfig(&listFn{}); ok {
		t.Error("a listFn taken for a write")
	}
	if d := cfg.DeliveryTimeout(); d != 1500*time.Millisecond {
		t.Errorf("DeliveryTimeout %v", d)
	}
	// No bundle end flushes a native write's records: no linger, unless
	// the properties set one.
	for props, want := range map[string]time.Duration{"": 0, "linger.ms": 5 * time.Millisecond, "queue.buffering.max.ms": 5 * time.Millisecond} {
		c := cfg
		c.Client.Properties = map[string]string{}
		if props != "" {
			c.Client.Properties[props] = "5"
		}
		opts, err := c.ProducerOptions()
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := cl.OptValue(kgo.ProducerLinger); got != want {
			t.Errorf("%q: linger %v, want %v", props, got, want)
		}
		cl.Close()
	}

	ts := time.UnixMilli(1_700_000_000_123)
	var b []byte
	recs := []Record{
		{Key: []byte("k"), Value: make([]byte, 300), Timestamp: ts, Headers: []Header{{Key: "h", Value: nil}}},
		{Topic: "other", Value: []byte{}, Timestamp: ts},
	}
	for i := range recs {
		var err error
		if b, err = AppendElement(b, &recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	r, n, err := cfg.ProduceRecord(b)
	if err != nil || r.Topic != "out" || string(r.Key) != "k" || len(r.Value) != 300 || !r.Timestamp.Equal(ts) ||
		len(r.Headers) != 1 || r.Headers[0].Value != nil {
		t.Fatalf("first record %+v, %v", r, err)
	}
	r, m, err := cfg.ProduceRecord(b[n:])
	if err != nil || r.Topic != "other" || r.Value == nil || len(r.Value) != 0 || n+m != len(b) {
		t.Fatalf("second record %+v (%d+%d of %d bytes), %v", r, n, m, len(b), err)
	}
	if _, _, err := cfg.ProduceRecord(b[:n-1]); err == nil {
		t.Error("a truncated element decoded")
	}
	cfg.Topic = ""
	if _, _, err := cfg.ProduceRecord(b); !errors.Is(err, ErrNoTopic) {
		t.Errorf("no topic: %v", err)
	}
	err = cfg.ProduceError(&kgo.Record{Topic: "missing", Partition: 3}, kerr.UnknownTopicOrPartition)
	var pe *PartitionError
	if !errors.As(err, &pe) || pe.Partition != -1 || err.Error() != "sink step s: kafka: produce missing: "+kerr.UnknownTopicOrPartition.Error() {
		t.Errorf("ProduceError: %v", err)
	}
}
