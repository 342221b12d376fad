package dsl

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// BatchOption configures Batch. Make one with BatchPerKey.
type BatchOption interface{ applyBatch(*Batcher) }

type batchOptionFunc func(*Batcher)

func (f batchOptionFunc) applyBatch(b *Batcher) { f(b) }

// BatchPerKey makes Batch keep one batch per message key (the Kafka
// record key, unless a step changed it) instead of one per source
// partition. Each batch then holds messages of one key, and carries that
// key.
func BatchPerKey() BatchOption {
	return batchOptionFunc(func(b *Batcher) { b.perKey = true })
}

// Batch groups messages into batches: a batch is emitted when it holds
// size messages, or when its oldest message has waited maxWait (in
// processing time, wall clock), whichever comes first. Zero disables
// either bound, not both. The deployment config's batch_size and
// batch_timedelta for the step replace size and maxWait.
//
//	batches := events.Apply("batch", dsl.Batch[Event](100, 5*time.Second))
//	// batches is a Stream[[]Event]
//
// There is one batch per source partition, so a batch keeps the order of
// its partition; BatchPerKey makes it one per message key. The batch
// message has the payloads in arrival order, the newest timestamp among
// its messages, the key of its messages with BatchPerKey (none
// otherwise), and no headers. A negative bound, or none, is a Build
// error.
func Batch[T any](size int, maxWait time.Duration, opts ...BatchOption) Step[T, []T] {
	b := &Batcher{size: size, maxWait: maxWait}
	for _, o := range opts {
		if o != nil {
			o.applyBatch(b)
		}
	}
	var problems []string
	if size < 0 {
		problems = append(problems, fmt.Sprintf("batch size must not be negative; got %d", size))
	}
	if maxWait < 0 {
		problems = append(problems, fmt.Sprintf("batch wait must not be negative; got %v", maxWait))
	}
	if size == 0 && maxWait == 0 {
		problems = append(problems, "a batch needs a size or a wait, or both")
	}
	if len(problems) > 0 {
		return Step[T, []T]{err: errors.New(strings.Join(problems, "; "))}
	}
	b.batch = func(payloads []any) (any, error) {
		out := make([]T, len(payloads))
		for i, p := range payloads {
			v, err := as[T](p)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return Step[T, []T]{kind: KindBatch, batcher: b}
}

// Batcher is a Batch step as runners see it, with its types erased.
type Batcher struct {
	step    string
	size    int
	maxWait time.Duration
	perKey  bool
	batch   func([]any) (any, error)
}

// Size is how many messages make a full batch (0: no size bound).
func (b *Batcher) Size() int { return b.size }

// MaxWait is how long the oldest message of a batch may wait, in
// processing time (0: no time bound).
func (b *Batcher) MaxWait() time.Duration { return b.maxWait }

// PerKey reports whether batches are per message key rather than per
// source partition.
func (b *Batcher) PerKey() bool { return b.perKey }

// Batch makes the payload of a batch message from the payloads of its
// messages, in order.
func (b *Batcher) Batch(payloads []any) (any, error) {
	out, err := b.batch(payloads)
	if err != nil {
		return nil, fmt.Errorf("step %s: %w", b.step, err)
	}
	return out, nil
}
