package engine

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Records the run produces itself (shuffle.go, kafkawrite.go) are
// produced asynchronously, a send per queued batch: the batch's
// references are released once every record of its send is acknowledged,
// so the input they came from is committed only then, and the bundles
// upstream go on meanwhile. A checkpoint, and the end of a run, wait for
// the sends in flight (sending).

// sends tracks a run's sends in flight.
type sends struct {
	// done are the sends whose records were all acknowledged or failed
	// (under mu); notify (buffered) says there are some.
	mu     sync.Mutex
	done   []*send
	notify chan struct{}
	// inflight counts the sends not taken back yet (owner).
	inflight int
}

func newSends() *sends { return &sends{notify: make(chan struct{}, 1)} }

// send is the records produced for one queued batch: pending counts those
// not acknowledged, plus one until all are produced.
type send struct {
	s       *sends
	fins    []*fin
	pending atomic.Int64
	// fail turns the failure of record r into the run's error; obs, when
	// set, is told of every record's outcome, timed from start.
	fail  func(r *kgo.Record, err error) error
	obs   func(r *kgo.Record, latency time.Duration, err error)
	start time.Time
	// ctx bounds the records' delivery; cancel releases it.
	ctx    context.Context
	cancel context.CancelFunc

	mu  sync.Mutex
	err error // the first failure, as fail made it
}

// begin starts a send of the records of a batch with fins, counted in
// flight until the engine takes it back (onSent). Its records have no
// deadline unless the caller sets ctx and cancel.
func (s *sends) begin(fins []*fin, fail func(*kgo.Record, error) error) *send {
	x := &send{s: s, fins: fins, fail: fail, ctx: context.Background(), cancel: func() {}}
	x.pending.Store(1)
	s.inflight++
	return x
}

// produce hands r to cl, counting it until its acknowledgement.
func (x *send) produce(cl *kgo.Client, r *kgo.Record) {
	x.pending.Add(1)
	cl.Produce(x.ctx, r, x.acked)
}

// end says every record of the send was produced.
func (x *send) end() { x.acked(nil, nil) }

// abort ends a send whose other records could not be produced: it fails
// with err once those produced are acknowledged.
func (x *send) abort(err error) {
	x.mu.Lock()
	if x.err == nil {
		x.err = err
	}
	x.mu.Unlock()
	x.end()
}

func (x *send) acked(r *kgo.Record, err error) {
	if r != nil && x.obs != nil {
		x.obs(r, time.Since(x.start), err)
	}
	if err != nil {
		x.mu.Lock()
		if x.err == nil {
			x.err = x.fail(r, err)
		}
		x.mu.Unlock()
	}
	if x.pending.Add(-1) > 0 {
		return
	}
	s := x.s
	s.mu.Lock()
	s.done = append(s.done, x)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// sending reports whether sends are in flight.
func (e *engine) sending() bool { return e.sends.inflight > 0 }

// onSent takes back the sends whose records are all acknowledged and
// releases their batches; a send that failed fails the run.
func (e *engine) onSent() {
	s := e.sends
	s.mu.Lock()
	done := s.done
	s.done = nil
	s.mu.Unlock()
	for _, x := range done {
		s.inflight--
		x.cancel()
		x.mu.Lock()
		err := x.err
		x.mu.Unlock()
		if err != nil {
			if !e.stopping {
				e.log.Error("localrunner: write failed", "error", err)
				e.fail(err)
			}
			continue
		}
		for _, f := range x.fins {
			e.release(f)
		}
	}
}
