package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer is a transactional producer that a runner lends the writes of
// a pipeline with exactly-once delivery ([WriteConfig.Transactional]):
// their records go into the runner's Kafka transactions, which commit
// them together with the offsets of the input they came from (and with
// the runner's own records, such as state changelogs). The runner ends a
// transaction only when no bundle of such a write is in flight.
type Producer interface {
	// Produce hands r to the producer; promise is called once r is
	// acknowledged or has failed, on a goroutine of the producer.
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

type producerKey struct{}

// WithProducer returns a context that lends p to the transactional
// writes whose bundles run with it: the runner passes it to the bundles
// it executes.
func WithProducer(ctx context.Context, p Producer) context.Context {
	return context.WithValue(ctx, producerKey{}, p)
}

// producerFrom is the producer ctx lends, or nil.
func producerFrom(ctx context.Context) Producer {
	p, _ := ctx.Value(producerKey{}).(Producer)
	return p
}
