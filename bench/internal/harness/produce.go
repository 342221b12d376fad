package harness

import (
	"context"
	"errors"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Producer produces a benchmark's input records without waiting for each
// and gathers the errors of their delivery, which Flush returns. The
// zero value with Client set is ready to use.
type Producer struct {
	Client *kgo.Client

	mu  sync.Mutex
	err error
}

// NewProducer is a Producer on a new client with opts.
func NewProducer(opts ...kgo.Opt) (*Producer, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &Producer{Client: cl}, nil
}

// Produce produces r; an error delivering it comes from Flush.
func (p *Producer) Produce(ctx context.Context, r *kgo.Record) {
	p.Client.Produce(ctx, r, p.done)
}

func (p *Producer) done(_ *kgo.Record, err error) {
	if err != nil {
		p.mu.Lock()
		p.err = errors.Join(p.err, err)
		p.mu.Unlock()
	}
}

// Flush waits for every record produced and returns the flush's error,
// or else those of the deliveries so far.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.Client.Flush(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Close closes the client.
func (p *Producer) Close() { p.Client.Close() }
