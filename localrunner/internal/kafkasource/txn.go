package kafkasource

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/twmb/franz-go/pkg/kerr"
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
//
// With Config.SyncCuts (a durable run), the engine takes part in each
// cut: told by Event{Cut}, it writes a checkpoint once nothing runs, its
// changelog records produced through this source's transaction, and calls
// CutReady once they are acknowledged; it starts nothing more until
// Event{TxnEnded}. The transaction thus holds the outputs, the state and
// the offsets of one consistent cut: the offsets of every record read,
// including those still waiting in windows, whose state the checkpoint
// holds (their batches stay unacknowledged until the windows fire, so
// the cut does not wait for them). A run's last transaction aborts: what
// came after the last cut has no checkpoint in it. After an abort every partition still
// assigned is taken up again as if newly assigned: its task's state is
// restored from the changelog's committed records (Resume), and reading
// goes on from the position saved with it, which is the committed offset.

// txnState is a source's transactional session.
type txnState struct {
	sess *atomic.Pointer[kgo.GroupTransactSession]
	id   string
	// open is the number of batches handed on and not acknowledged,
	// those of partitions gone since included (their outputs may still
	// be produced into the transaction).
	open int
	// ready is set by CutReady during a synchronised cut.
	ready bool
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
	// No linger: a bundle waits for its records' acknowledgements
	// (kafka.WithProducer), which a linger of the default 10 ms would
	// delay every time. The read's properties may set linger.ms.
	opts = append([]kgo.Opt{kgo.TransactionTimeout(DefaultTransactionTimeout), kgo.ProducerLinger(0)}, opts...)
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

// CutReady tells the source, during a synchronised cut, that the engine
// has written its checkpoint into the transaction.
func (s *Source) CutReady() {
	s.mu.Lock()
	s.txn.ready = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// commitTxn ends the transaction at a cut and begins the next one. It
// returns without error, and without ending it, when finished closed or
// emit refused first.
func (s *Source) commitTxn(ctx context.Context, emit func(Event) bool, finished <-chan struct{}) error {
	if s.cfg.SyncCuts {
		s.mu.Lock()
		s.txn.ready = false
		s.mu.Unlock()
		if !emit(Event{Cut: true, Watermark: mtime.MinTimestamp}) {
			return nil
		}
	}
	if !s.awaitCut(ctx, finished) {
		return nil
	}
	sess := s.txn.sess.Load()
	start := time.Now()
	committed, err := sess.End(ctx, kgo.TryCommit)
	if f := s.cfg.Committed; f != nil {
		f(CommitEvent{Group: s.cfg.Read.Config.Group, Partitions: s.movedPartitions(), Elapsed: time.Since(start), Err: err})
	}
	if err != nil && isFenced(err) {
		// The brokers aborted the transaction; the producer can make no
		// other: Run joins again with a new one.
		s.afterTxn(false)
		if s.cfg.SyncCuts {
			emit(Event{TxnEnded: true, Watermark: mtime.MinTimestamp})
		}
		return fmt.Errorf("%w: %w", errFenced, err)
	}
	if err != nil {
		return fmt.Errorf("localrunner: ending a kafka transaction: %w", err)
	}
	s.afterTxn(committed)
	if !committed && s.cfg.SyncCuts {
		s.takeUpAgain(sess.Client())
	}
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("localrunner: beginning a kafka transaction: %w", err)
	}
	if s.cfg.SyncCuts {
		emit(Event{TxnEnded: true, Committed: committed, Watermark: mtime.MinTimestamp})
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
	// A synchronised source commits at cuts only: what came after the
	// last one has no checkpoint in the transaction.
	try := kgo.TransactionEndTry(s.txn.open == 0 && !s.cfg.SyncCuts)
	s.mu.Unlock()
	committed, err := sess.End(ctx, try)
	if err != nil {
		return err
	}
	s.afterTxn(committed)
	return nil
}

// awaitCut stops handing batches on (the caller is the poll loop) until
// every batch handed on is acknowledged, or, synchronised, until the
// engine's checkpoint of the cut is in the transaction (CutReady). It
// returns false when ctx ended or finished closed first.
func (s *Source) awaitCut(ctx context.Context, finished <-chan struct{}) bool {
	for {
		s.mu.Lock()
		open, ready := s.txn.open, s.txn.ready
		s.mu.Unlock()
		// A synchronised cut waits for the engine's checkpoint only: it
		// holds what windows still hold, whose batches stay open.
		if s.cfg.SyncCuts && ready || !s.cfg.SyncCuts && open == 0 {
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

// takeUpAgain, after an aborted transaction of a synchronised source,
// takes every partition still assigned up again as if newly assigned:
// Resume has the engine drop its task and restore it from the
// changelog's committed records, and the partition is announced again
// and read from the position saved with them (the committed offset, as
// both commit in one transaction). A partition Resume knows nothing of
// is read from its committed offset, where the session left the client.
// Its time is the one saved with the position (resumetime.go).
func (s *Source) takeUpAgain(cl *kgo.Client) {
	s.mu.Lock()
	var tps []topicPartition
	for tp, p := range s.parts {
		if !p.revoked && p.announced {
			tps = append(tps, tp)
		}
	}
	s.mu.Unlock()
	seek := map[string]map[int32]kgo.EpochOffset{}
	for _, tp := range tps {
		next, ok := s.cfg.Resume(tp.topic, tp.partition)
		s.mu.Lock()
		p := s.parts[tp]
		if p == nil || p.revoked {
			s.mu.Unlock()
			continue
		}
		from := p.committed
		if ok {
			from = next
		}
		fresh := newPartition(tp, time.Now())
		fresh.committed, fresh.done, fresh.from, fresh.hwm = p.committed, p.committed, from, p.hwm
		fresh.adjusted, fresh.resumed = true, ok
		if ok {
			s.resumeMarks(fresh)
		}
		s.parts[tp] = fresh
		s.gone = append(s.gone, tp)
		s.mu.Unlock()
		if ok && next != p.committed {
			s.log.Warn("localrunner: the state restored after an abort is not at the committed offset; reading from the state's position", "topic", tp.topic, "partition", tp.partition, "state", next, "committed", p.committed)
			if seek[tp.topic] == nil {
				seek[tp.topic] = map[int32]kgo.EpochOffset{}
			}
			seek[tp.topic][tp.partition] = kgo.EpochOffset{Epoch: -1, Offset: next}
		}
	}
	if len(seek) > 0 {
		cl.SetOffsets(seek)
	}
	s.log.Info("localrunner: partitions taken up again from their committed state after the abort", "partitions", len(tps))
}

// errFenced wraps the error of a transaction the brokers ended for the
// producer: another producer took its transactional id over, or the
// transaction outlived transaction.timeout.ms (a rebalance held it open:
// its partitions' new owner waited for the offsets of the old one). The
// producer can make no other transaction.
var errFenced = errors.New("localrunner: the transactional producer was fenced")

// isFenced reports whether err ends the producer (see errFenced).
func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping)
}

// rejoin, after the producer was fenced (cause), leaves the group with
// the old client and joins it again with a new transactional producer:
// every partition is forgotten (the engine drops its task) and, assigned
// again, taken up from its committed state, as after a restart.
func (s *Source) rejoin(old *kgo.Client, opts []kgo.Opt, cause error) (*kgo.Client, error) {
	s.log.Warn("localrunner: the transactional producer was fenced; leaving the group and joining again with a new one", "error", cause)
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	old.Close()
	s.mu.Lock()
	all := map[topicPartition]bool{}
	for tp := range s.parts {
		all[tp] = true
	}
	s.closing = false
	s.mu.Unlock()
	s.forget(all)
	s.txn.id = transactionalID(s.cfg.Read.Config.Group)
	cl, err := s.newClient(slices.Clone(opts))
	if err != nil {
		return nil, fmt.Errorf("localrunner: kafka read: a new transactional client: %w", err)
	}
	s.buffered = cl.BufferedFetchRecords
	return cl, nil
}
