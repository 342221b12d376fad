package harness

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestProducer(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := NewProducer(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	p.Produce(ctx, &kgo.Record{Topic: "in", Value: []byte("v")})
	if err := p.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	// A record too large for the client fails; Flush returns its error.
	p.Produce(ctx, &kgo.Record{Topic: "in", Value: make([]byte, 2<<20)})
	if err := p.Flush(ctx); err == nil {
		t.Fatal("Flush of a failed record returned nil")
	}
}
