package kafka_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/streams-dev/streams/io/kafka"
)

// TestReadConfigErrors reports every problem of a read config at once, as
// ErrInvalidConfig, and Read panics with the same error.
func TestReadConfigErrors(t *testing.T) {
	cfg := kafka.ReadConfig{
		Client:      kafka.ClientConfig{Properties: map[string]string{"sasl.usernme": "x"}},
		Topics:      []string{"a", "", "a"},
		StartOffset: "error",
		MaxReadTime: -1,
	}
	_, s := beam.NewPipelineWithRoot()
	_, err := kafka.TryRead(s, cfg)
	if !errors.Is(err, kafka.ErrInvalidConfig) {
		t.Fatalf("TryRead: %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{
		"kafka: invalid config: Client: no brokers configured",
		"Topics: empty topic name",
		`Topics: topic "a" listed twice`,
		`StartOffset: "error" needs a Group`,
		"MaxReadTime: negative duration -1ns",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("TryRead error\n%v\ndoes not say %q", err, want)
		}
	}

	defer func() {
		if p, ok := recover().(error); !ok || !errors.Is(p, kafka.ErrInvalidConfig) {
			t.Errorf("Read panicked with %v, want an ErrInvalidConfig", p)
		}
	}()
	kafka.Read(s, cfg)
}

func TestReadConfigBadStartOffset(t *testing.T) {
	_, s := beam.NewPipelineWithRoot()
	_, err := kafka.TryRead(s, kafka.ReadConfig{Client: kafka.ClientConfig{Brokers: []string{"b:9092"}}, Topics: []string{"a"}, StartOffset: "newest"})
	if !errors.Is(err, kafka.ErrInvalidConfig) || !strings.Contains(err.Error(), `got "newest"`) {
		t.Fatalf("TryRead: %v, want a StartOffset error", err)
	}
}

// TestWriteConfigErrors rejects a client config the properties cannot
// build.
func TestWriteConfigErrors(t *testing.T) {
	_, s := beam.NewPipelineWithRoot()
	col := beam.Create(s, kafka.Record{})
	err := kafka.TryWrite(s, kafka.WriteConfig{Client: kafka.ClientConfig{Brokers: []string{"b:9092"}, Properties: map[string]string{"acks": "2"}}}, col)
	if !errors.Is(err, kafka.ErrInvalidConfig) || !strings.Contains(err.Error(), "property acks") {
		t.Fatalf("TryWrite: %v, want an acks property error", err)
	}
}
