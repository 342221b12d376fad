package kafkasource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Exactly-once (kafka.ReadConfig.ExactlyOnce)
//
// The source is then a transactional member of its group, Kafka's EOS v2
// through franz-go's GroupTransactSession: it reads committed records
// only, the pipeline's transactional writes produce through it (Produce),
// and the records they produce commit in one transaction with the offsets
// of the input they came from, on the commit policy.
//
// A transaction ends at a cut: the source stops handing batches on and
// waits until every batch it handed on is acknowledged (every output of
// every record read so far is produced, and none of a record not read
// yet). The positions it commits are then exactly the input of the
// transaction's outputs. A rebalance or a fencing during a transaction
// aborts it (franz-go's rule: the partitions may already be another
// member's); the source then reads again from the committed positions,
// and what the aborted transaction produced is never seen by readers
// with isolation.level=read_committed. Any other failure to commit fails
// the read: the process restarts from the committed positions.

// txnState is a source's transactional session.
type txnState struct {
	sess *atomic.Pointer[kgo.GroupTransactSession]
	id   string
	// open is the number of batches handed on and not acknowledged,
	// those of partitions gone since included (their outputs may still
	// be produced into the transaction).
	open int
	// Figures, for the log and the tests.
	commits, aborts int64
}

// DefaultTransactionTimeout is how long a transaction may stay open
// before the brokers abort it, unless the client properties set
// transaction.timeout.ms: it bounds how long the open transaction of a
// process that died holds back read_committed readers and its
// partitions' next owner. Kafka Streams' default under exactly-once.
const DefaultTransactionTimeout = 10 * time.Second

// transactionalID names a process's producer: unique, so that two live
// members never fence each other; a dead member's open transaction is
// aborted by the brokers after the transaction timeout.
func transactionalID(group string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("streams-%s-%s", group, hex.EncodeToString(b))
}

// exactlyOnce reports whether the source reads with exactly-once delivery.
func (s *Source) exactlyOnce() bool { return s.txn != nil }

// newClient returns the source's client: a transactional session's under
// exactly-once (then with a transaction begun), a plain one otherwise.
func (s *Source) newClient(opts []kgo.Opt) (*kgo.Client, error) {
	if !s.exactlyOnce() {
		return kgo.NewClient(opts...)
	}
	opts = append([]kgo.Opt{kgo.TransactionTimeout(DefaultTransactionTimeout)}, opts...)
	opts = append(opts,
		kgo.TransactionalID(s.txn.id),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
	)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, err
	}
	if err := sess.Begin(); err != nil {
		sess.Close()
		return nil, fmt.Errorf("beginning a transaction: %w", err)
	}
	s.txn.sess.Store(sess)
	s.log.Info("localrunner: kafka source reads with exactly-once delivery", "transactional_id", s.txn.id)
	return sess.Client(), nil
}

// Produce hands r to the source's transactional producer: r commits with
// the transaction open now. The engine lends it to the pipeline's
// transactional writes (kafka.WithProducer).
func (s *Source) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	sess := s.txn.sess.Load()
	if sess == nil {
		promise(r, errors.New("localrunner: the transactional producer is not started"))
		return
	}
	sess.Produce(ctx, r, promise)
}

// ExactlyOnce reports whether the source reads with exactly-once delivery,
// so lends its producer (Produce) to the pipeline's writes.
func (s *Source) ExactlyOnce() bool { return s.exactlyOnce() }

// commitTxn ends the transaction at a cut and begins the next one. It
// returns false without error when finished closed first.
func (s *Source) commitTxn(ctx context.Context, finished <-chan struct{}) error {
	if !s.awaitCut(ctx, finished) {
		return nil
	}
	sess := s.txn.sess.Load()
	start := time.Now()
	committed, err := sess.End(ctx, kgo.TryCommit)
	if f := s.cfg.Committed; f != nil {
		f(CommitEvent{Group: s.cfg.Read.Config.Group, Partitions: s.movedPartitions(), Elapsed: time.Since(start), Err: err})
	}
	if err != nil {
		return fmt.Errorf("localrunner: ending a kafka transaction: %w", err)
	}
	s.afterTxn(committed)
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("localrunner: beginning a kafka transaction: %w", err)
	}
	return nil
}

// finalTxn ends the last transaction when the source stops: committed if
// every batch handed on was acknowledged, aborted otherwise.
func (s *Source) finalTxn(ctx context.Context) error {
	sess := s.txn.sess.Load()
	if sess == nil {
		return nil
	}
	s.mu.Lock()
	try := kgo.TransactionEndTry(s.txn.open == 0)
	s.mu.Unlock()
	committed, err := sess.End(ctx, try)
	if err != nil {
		return err
	}
	s.afterTxn(committed)
	return nil
}

// awaitCut stops handing batches on (the caller is the poll loop) until
// every batch handed on is acknowledged. It returns false when ctx ended
// or finished closed first.
func (s *Source) awaitCut(ctx context.Context, finished <-chan struct{}) bool {
	for {
		s.mu.Lock()
		open := s.txn.open
		s.mu.Unlock()
		if open == 0 {
			return true
		}
		select {
		case <-s.wake:
		case <-finished:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// movedPartitions counts the partitions whose position moved since the
// last commit.
func (s *Source) movedPartitions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.parts {
		if p.done > p.committed {
			n++
		}
	}
	return n
}

// afterTxn takes a transaction's outcome: committed positions move on;
// after an abort, every partition still assigned is read again from its
// committed position (franz-go's session has reset the client's fetch
// positions there), with nothing of it in flight (the transaction ended
// at a cut).
func (s *Source) afterTxn(committed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ackedSince = 0
	if committed {
		s.txn.commits++
		for _, p := range s.parts {
			p.committed = max(p.committed, p.done)
		}
		return
	}
	s.txn.aborts++
	rewound := 0
	for _, p := range s.parts {
		if p.done > p.committed {
			rewound++
		}
		p.done, p.next = p.committed, p.committed
	}
	s.log.Warn("localrunner: kafka transaction aborted (a rebalance or fencing); reading again from the committed offsets", "partitions_rewound", rewound)
}
