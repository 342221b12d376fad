package beamtranslate

import (
	"bytes"
	"strings"
	"testing"

	"github.com/streams-dev/streams/io/kafka"
)

func headerMap(r kafka.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

// A dead-letter record too large for its topic is cut to fit, saying so.
func TestFitDLQ(t *testing.T) {
	value := bytes.Repeat([]byte("v"), 10_000)
	r := kafka.Record{Key: []byte("k"), Value: value, Headers: []kafka.Header{
		{Key: "app", Value: []byte("x")}, {Key: HeaderDLQStep, Value: []byte("parse")},
	}}
	if got := fitDLQ(r, 20_000); got.BatchSize() != r.BatchSize() || len(got.Headers) != 2 {
		t.Errorf("a record that fits was changed: %d headers", len(got.Headers))
	}
	got := fitDLQ(r, 2_000)
	h := headerMap(got)
	if got.BatchSize() > 2_000 || got.BatchSize() < 1_990 || !bytes.HasPrefix(value, got.Value) ||
		h[HeaderDLQTruncated] != "value" || h[HeaderDLQOriginalSize] != "10000" || h["app"] != "x" || string(got.Key) != "k" {
		t.Errorf("truncated: %d bytes, value %d, headers %v", got.BatchSize(), len(got.Value), h)
	}

	// Headers alone over the limit: only ours stay, the cause cut short.
	r.Headers = append(r.Headers, kafka.Header{Key: "huge", Value: bytes.Repeat([]byte("h"), 5_000)},
		kafka.Header{Key: HeaderDLQError, Value: bytes.Repeat([]byte("e"), 3_000)})
	got = fitDLQ(r, 2_000)
	h = headerMap(got)
	if got.BatchSize() > 2_000 || got.Key != nil || len(got.Value) != 0 || h["huge"] != "" || h["app"] != "" ||
		h[HeaderDLQStep] != "parse" || len(h[HeaderDLQError]) != maxDLQError || h[HeaderDLQTruncated] != "value,key,headers" {
		t.Errorf("bare: %d bytes, key %q, headers %d", got.BatchSize(), got.Key, len(got.Headers))
	}
}

func TestTooLarge(t *testing.T) {
	r := kafka.Record{Value: bytes.Repeat([]byte("v"), 1_000)}
	if err := tooLarge("out", "t", r, 0); err != nil {
		t.Errorf("no limit: %v", err)
	}
	if err := tooLarge("out", "t", r, int32(r.BatchSize())); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	err := tooLarge("out", "t", r, int32(r.BatchSize()-1))
	if err == nil || !strings.Contains(err.Error(), "step out: record too large") {
		t.Errorf("over the limit: %v", err)
	}
}
