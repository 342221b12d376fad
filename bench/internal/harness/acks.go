package harness

import (
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Acks counts a hand-written loop's produced records until the broker
// acknowledges them, and keeps the first produce error. Add before
// producing; pass Done as the produce promise.
type Acks struct {
	pending atomic.Int64
	failed  atomic.Pointer[error]
}

// Add counts n records about to be produced.
func (a *Acks) Add(n int) { a.pending.Add(int64(n)) }

// Done is the produce promise of each counted record.
func (a *Acks) Done(_ *kgo.Record, err error) {
	if err != nil {
		a.failed.CompareAndSwap(nil, &err)
	}
	a.pending.Add(-1)
}

// Settled reports whether every counted record is acknowledged, or the
// first produce error.
func (a *Acks) Settled() (bool, error) {
	if err := a.failed.Load(); err != nil {
		return false, fmt.Errorf("produce: %w", *err)
	}
	return a.pending.Load() == 0, nil
}
