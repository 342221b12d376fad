package kafka_test

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/io/kafka"
)

func init() {
	register.Function1x2(countOne)
	register.Function3x1(windowCount)
}

// TestWrite writes a bounded PCollection: each record goes to its own topic
// or the default one, with a null or empty key, value and header value
// kept as such, and the pipeline ends.
func TestWrite(t *testing.T) {
	t.Parallel()
	cfg := cluster(t, 1, "a", "b")
	ts := time.UnixMilli(1_600_000_000_123)
	recs := []kafka.Record{
		{Key: []byte("k1"), Value: []byte("v1"), Timestamp: ts, Headers: []kafka.Header{{Key: "h", Value: []byte("x")}, {Key: "h", Value: nil}}},
		{Topic: "b", Key: nil, Value: []byte{}, Timestamp: ts.Add(time.Second)},
		{Key: []byte{}, Value: nil, Timestamp: ts.Add(2 * time.Second), Headers: []kafka.Header{{Key: "e", Value: []byte{}}}},
	}
	if err := start(t, pipelineSpec{Write: &kafka.WriteConfig{Client: cfg, Topic: "a"}, Records: recs}).wait(t, time.Minute); err != nil {
		t.Fatal(err)
	}

	gotA := consume(t, nil, cfg, "a", 2, 10*time.Second, 0)
	gotB := consume(t, nil, cfg, "b", 1, 10*time.Second, 0)
	check := func(got *kgo.Record, want kafka.Record) {
		t.Helper()
		if !nullableEqual(got.Key, want.Key) || !nullableEqual(got.Value, want.Value) || !got.Timestamp.Equal(want.Timestamp) {
			t.Errorf("got key %#v value %#v at %v, want %#v %#v at %v", got.Key, got.Value, got.Timestamp, want.Key, want.Value, want.Timestamp)
		}
		if len(got.Headers) != len(want.Headers) {
			t.Fatalf("got headers %v, want %v", got.Headers, want.Headers)
		}
		for i, h := range want.Headers {
			if got.Headers[i].Key != h.Key || !nullableEqual(got.Headers[i].Value, h.Value) {
				t.Errorf("header %d: got %q=%#v, want %q=%#v", i, got.Headers[i].Key, got.Headers[i].Value, h.Key, h.Value)
			}
		}
	}
	slices.SortFunc(gotA, func(x, y *kgo.Record) int { return x.Timestamp.Compare(y.Timestamp) })
	check(gotA[0], recs[0])
	check(gotA[1], recs[2])
	check(gotB[0], recs[1])
}

// nullableEqual tells nil from empty, as Kafka does.
func nullableEqual(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// TestWriteUnknownTopic fails the pipeline when a topic does not exist
// (the broker does not create topics), naming the topic.
func TestWriteUnknownTopic(t *testing.T) {
	t.Parallel()
	cfg := cluster(t, 1, "a")
	err := start(t, pipelineSpec{Write: &kafka.WriteConfig{Client: cfg, Topic: "missing"}, Records: []kafka.Record{{Value: []byte("v")}}}).wait(t, time.Minute)
	if !errContains(err, "kafka: produce missing", "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("pipeline error %v, want an unknown topic error naming the topic", err)
	}
}

// TestWriteNoTopic fails the pipeline on a record without a topic when the
// write has no default topic.
func TestWriteNoTopic(t *testing.T) {
	t.Parallel()
	cfg := cluster(t, 1, "a")
	err := start(t, pipelineSpec{Write: &kafka.WriteConfig{Client: cfg}, Records: []kafka.Record{{Value: []byte("v")}}}).wait(t, time.Minute)
	if !errContains(err, "kafka: produce: record has no topic and the write has no default topic") {
		t.Fatalf("pipeline error %v, want %v", err, kafka.ErrNoTopic)
	}
}

// TestWriteClosedCluster fails the pipeline when the cluster is gone and
// message.timeout.ms passes.
func TestWriteClosedCluster(t *testing.T) {
	t.Parallel()
	cfg := kafka.ClientConfig{
		Brokers:    []string{closedAddr(t)},
		Properties: map[string]string{"message.timeout.ms": "1000"},
	}
	err := start(t, pipelineSpec{Write: &kafka.WriteConfig{Client: cfg, Topic: "a"}, Records: []kafka.Record{{Value: []byte("v")}}}).wait(t, time.Minute)
	if !errContains(err, "kafka: write: records not acknowledged within 1s") {
		t.Fatalf("pipeline error %v, want a delivery timeout", err)
	}
}

func countOne(r kafka.Record) (string, int) { return "n", 1 }

// windowCount turns the count of a window into a record keyed by the
// window's start.
func windowCount(w beam.Window, _ string, n int) kafka.Record {
	start := w.(window.IntervalWindow).Start.ToTime().UTC()
	return kafka.Record{Key: []byte(start.Format(time.RFC3339)), Value: []byte(strconv.Itoa(n))}
}

// TestEventTimeWindows counts records in one-second event-time windows:
// records carry their Kafka timestamps as event times, and both windows
// close, although the newest timestamp minus MaxSkew only passes the end of
// the first: the watermark of the partition moves to now minus MaxSkew once
// it is idle.
//
// One partition only: prism keeps one output watermark per SDF stage, the
// estimate of the last bundle, not the minimum over restrictions, so with
// several partitions an idle one can carry the watermark past records
// another has yet to emit, which prism then drops as late (see the package
// doc, "Runners").
func TestEventTimeWindows(t *testing.T) {
	t.Parallel()
	cfg := cluster(t, 1, "in", "out")
	base := time.Unix(1_700_000_000, 0)
	var in []*kgo.Record
	for _, d := range []time.Duration{100, 200, 300, 400, 500, 1100, 1200, 1300} {
		in = append(in, &kgo.Record{Topic: "in", Value: []byte("x"), Timestamp: base.Add(d * time.Millisecond)})
	}
	produce(t, cfg, in...)

	j := start(t, pipelineSpec{Windows: &kafka.ReadConfig{Client: cfg, Topics: []string{"in"}, Group: "g", StartOffset: kafka.StartEarliest}, Out: "out"})
	got := consume(t, j, cfg, "out", 2, time.Minute, 500*time.Millisecond)
	j.stop(t)

	var lines []string
	for _, r := range got {
		lines = append(lines, fmt.Sprintf("%s=%s", r.Key, r.Value))
	}
	slices.Sort(lines)
	want := []string{
		base.UTC().Format(time.RFC3339) + "=5",
		base.Add(time.Second).UTC().Format(time.RFC3339) + "=3",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("window counts %v, want %v", lines, want)
	}
}
