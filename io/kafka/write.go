package kafka

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultDeliveryTimeout is how long a bundle's records may take to be
// acknowledged before the bundle fails, unless the client properties set
// message.timeout.ms (or its alias delivery.timeout.ms). It is librdkafka's
// default.
//
// The write enforces it itself, at FinishBundle, rather than with franz-go's
// RecordDeliveryTimeout, which counts from each record's Timestamp: since
// the write keeps the records' timestamps, a record read from a backlog
// would be failed as soon as it was produced.
const DefaultDeliveryTimeout = 5 * time.Minute

// WriteConfig configures [Write].
type WriteConfig struct {
	// Client says how to reach the cluster. Required. The producer is
	// idempotent with acks=all unless the properties say otherwise
	// (enable.idempotence, acks).
	Client ClientConfig
	// Topic is where a record goes when its Topic is empty. Optional if
	// every record names its topic; a record with neither fails its bundle
	// with [ErrNoTopic].
	Topic string
	// Observer names a [ProduceObserver] registered with
	// [RegisterProduceObserver] in the process running the write; it is
	// told of every record's delivery. Optional; an observer not
	// registered when the write starts is not told.
	Observer string
	// MaxRecordBytes caps the producer's record batches, and so the size
	// of one record (see [Record.BatchSize]): set it to the topic's
	// max.message.bytes, so that the producer accepts what the topic
	// does. Zero means the client properties' batch.size (or
	// message.max.bytes), else [DefaultMaxRecordBytes]. A record larger
	// than the cap fails its bundle with kerr.MessageTooLarge; check
	// sizes before the write to handle it otherwise.
	MaxRecordBytes int32 `json:",omitempty"`
	// Label names the write in its errors, such as the pipeline step it
	// serves ("sink step out"), rather than leaving the runner's
	// transform name to say it. Optional.
	Label string `json:",omitempty"`
	// Transactional makes the write produce through the transactional
	// producer the runner lends it ([WithProducer]) instead of a client
	// of its own, so that its records commit in the runner's transactions
	// with the input they came from: exactly-once delivery to readers
	// with isolation.level=read_committed. Client then only names the
	// cluster, which must be the one the runner's transactions are on.
	// On a runner that lends no producer, the write fails with
	// [ErrNoExactlyOnce].
	Transactional bool `json:",omitempty"`
}

// ProduceObserver is told of the outcome of every record a write
// produces: the time from handing it to the producer to its
// acknowledgement, or its failure. It is called on the producer's
// goroutines, so it must be safe for concurrent use and quick.
type ProduceObserver interface {
	Produced(topic string, latency time.Duration, err error)
}

var (
	observersMu sync.RWMutex
	observers   = map[string]ProduceObserver{}
)

// RegisterProduceObserver makes o the observer named name for the writes
// whose WriteConfig.Observer is name, until the returned function is
// called. Writes look their observer up when their DoFn is set up.
func RegisterProduceObserver(name string, o ProduceObserver) (unregister func()) {
	observersMu.Lock()
	defer observersMu.Unlock()
	observers[name] = o
	return func() {
		observersMu.Lock()
		defer observersMu.Unlock()
		if observers[name] == o {
			delete(observers, name)
		}
	}
}

func lookupObserver(name string) ProduceObserver {
	if name == "" {
		return nil
	}
	observersMu.RLock()
	defer observersMu.RUnlock()
	return observers[name]
}

func (c WriteConfig) validate() error {
	var errs []error
	if _, err := c.Client.Options(); err != nil {
		errs = append(errs, &configError{field: "Client", err: err})
	}
	if c.MaxRecordBytes != 0 && (c.MaxRecordBytes < minRecordBytes || c.MaxRecordBytes > maxRecordBytes) {
		errs = append(errs, invalid("MaxRecordBytes", "want %d to %d, got %d", minRecordBytes, maxRecordBytes, c.MaxRecordBytes))
	}
	return errors.Join(errs...)
}

// The bounds of WriteConfig.MaxRecordBytes: franz-go's for a batch, below
// its 100 MiB limit on a request.
const (
	minRecordBytes = 512
	maxRecordBytes = 100<<20 - 1<<10
)

// Write produces every Record of col (a PCollection<Record>) to Kafka: to
// the record's topic, or cfg.Topic when it has none, with its key, value,
// headers and timestamp.
//
// A bundle succeeds only once all its records are acknowledged by the
// brokers (acks=all): FinishBundle flushes the producer and fails the
// bundle if any record failed, so the runner retries it. Delivery is
// therefore at least once; a retried bundle may write some records twice.
//
// Write panics if cfg is invalid, as Beam's own transforms do when a
// pipeline is built wrongly; use [TryWrite] to get the error instead.
func Write(s beam.Scope, cfg WriteConfig, col beam.PCollection) {
	if err := TryWrite(s, cfg, col); err != nil {
		panic(err)
	}
}

// TryWrite is [Write] returning an error, matching [ErrInvalidConfig] for
// an invalid cfg, instead of panicking.
func TryWrite(s beam.Scope, cfg WriteConfig, col beam.PCollection) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	s = s.Scope("kafka.Write")
	if _, err := beam.TryParDo(s, &writeFn{Client: cfg.Client, Topic: cfg.Topic, Observer: cfg.Observer, MaxRecordBytes: cfg.MaxRecordBytes, Label: cfg.Label, Transactional: cfg.Transactional}, col); err != nil {
		return fmt.Errorf("kafka: write: %w", err)
	}
	return nil
}

// writeFn produces records. The client lives from Setup to Teardown, and
// is replaced after a bundle whose records could not all be delivered in
// time; each bundle's records are flushed and checked in FinishBundle.
type writeFn struct {
	Client         ClientConfig
	Topic          string
	Observer       string `json:",omitempty"`
	MaxRecordBytes int32  `json:",omitempty"`
	Label          string `json:",omitempty"`
	Transactional  bool   `json:",omitempty"`

	st  *writeState
	obs ProduceObserver
}

// writeState is the per-instance state of writeFn. The produce callbacks
// run on franz-go's goroutines, hence mu; cl changes only between bundles.
type writeState struct {
	opts    []kgo.Opt
	timeout time.Duration // to deliver a bundle's records

	// txn is the runner's transactional producer, in place of cl, for a
	// Transactional write (set at each bundle's start); pending counts
	// the bundle's records it has not acknowledged yet.
	txn     Producer
	pending sync.WaitGroup

	mu     sync.Mutex
	cl     *kgo.Client
	closed bool
	failed int   // records that failed in the current bundle
	first  error // the first of them, as a *PartitionError
}

func (fn *writeFn) Setup() error {
	opts, err := fn.Client.Options()
	if err != nil {
		return err
	}
	if fn.MaxRecordBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(fn.MaxRecordBytes))
	}
	st := &writeState{
		// Last, to override a timeout from the properties: see
		// DefaultDeliveryTimeout.
		opts:    append(opts, kgo.RecordDeliveryTimeout(0)),
		timeout: deliveryTimeout(fn.Client.Properties),
	}
	fn.st = st
	fn.obs = lookupObserver(fn.Observer)
	if fn.Transactional {
		return nil // the runner's producer, at each bundle's start
	}
	if err := st.open(); err != nil {
		return err
	}
	fn.obs = lookupObserver(fn.Observer)
	// Beam Go's harness (v2.77) never calls Teardown; close the client when
	// the DoFn instance is garbage.
	runtime.AddCleanup(fn, func(st *writeState) { st.close() }, st)
	return nil
}

// deliveryTimeout is the message.timeout.ms (or delivery.timeout.ms)
// property, else DefaultDeliveryTimeout. Options has validated the value.
func deliveryTimeout(props map[string]string) time.Duration {
	for _, k := range []string{"message.timeout.ms", "delivery.timeout.ms"} {
		if v, ok := props[k]; ok {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	return DefaultDeliveryTimeout
}

func (st *writeState) open() error {
	cl, err := kgo.NewClient(st.opts...)
	if err != nil {
		return fmt.Errorf("kafka: write: client: %w", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		cl.Close()
		return kgo.ErrClientClosed
	}
	st.cl = cl
	return nil
}

// drop closes the client, failing its buffered records; the next bundle
// opens another.
func (st *writeState) drop() {
	st.mu.Lock()
	cl := st.cl
	st.cl = nil
	st.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
}

// close closes the client for good. It is idempotent.
func (st *writeState) close() {
	st.mu.Lock()
	st.closed = true
	st.mu.Unlock()
	st.drop()
}

func (fn *writeFn) StartBundle(ctx context.Context) error {
	fn.st.mu.Lock()
	fn.st.failed, fn.st.first = 0, nil
	reopen := fn.st.cl == nil
	fn.st.mu.Unlock()
	if fn.Transactional {
		if fn.st.txn = producerFrom(ctx); fn.st.txn == nil {
			return fmt.Errorf("kafka: write: %w", ErrNoExactlyOnce)
		}
		return nil
	}
	if reopen {
		return fn.st.open()
	}
	return nil
}

// ProcessElement hands the record to the producer, which batches it. It
// blocks while the producer's buffer is full.
func (fn *writeFn) ProcessElement(ctx context.Context, r Record) error {
	topic := r.Topic
	if topic == "" {
		topic = fn.Topic
	}
	if topic == "" {
		return &PartitionError{Op: "produce", Partition: -1, Offset: -1, Err: ErrNoTopic}
	}
	produce, done := fn.st.produce, fn.st.done
	if obs := fn.obs; obs != nil {
		start := time.Now()
		done = func(r *kgo.Record, err error) {
			obs.Produced(r.Topic, time.Since(start), err)
			fn.st.done(r, err)
		}
	}
	produce(ctx, r.toKgo(topic), done)
	return nil
}

// produce hands r to the runner's producer (counting it until its
// promise) or to the write's own client.
func (st *writeState) produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if st.txn == nil {
		st.cl.Produce(ctx, r, promise)
		return
	}
	st.pending.Add(1)
	st.txn.Produce(ctx, r, func(r *kgo.Record, err error) {
		promise(r, err)
		st.pending.Done()
	})
}

func (st *writeState) done(r *kgo.Record, err error) {
	if err == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.failed++
	if st.first == nil {
		st.first = produceError(r, err)
	}
}

// FinishBundle waits until every record of the bundle is acknowledged or
// failed, and fails the bundle if any failed. If the records are not all
// delivered within the delivery timeout, it closes the client, failing the
// records still buffered (so that none is delivered after the runner has
// given up on the bundle), and the next bundle opens a new one.
func (fn *writeFn) FinishBundle(ctx context.Context) error {
	err := fn.finish(ctx)
	if err != nil && fn.Label != "" {
		err = fmt.Errorf("%s: %w", fn.Label, err)
	}
	return err
}

func (fn *writeFn) finish(ctx context.Context) error {
	st := fn.st
	fctx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	if st.txn != nil {
		if err := st.awaitPending(fctx); err != nil {
			return fmt.Errorf("kafka: write: %w", err)
		}
	} else if err := st.cl.Flush(fctx); err != nil {
		st.drop()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("records not acknowledged within %v", st.timeout)
		}
		return fmt.Errorf("kafka: write: %w", err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	switch st.failed {
	case 0:
		return nil
	case 1:
		return st.first
	default:
		return fmt.Errorf("%w (and %d more records failed)", st.first, st.failed-1)
	}
}

// awaitPending waits for the promises of the records handed to the
// runner's producer. Those still pending when ctx ends stay the runner's:
// its transaction cannot commit them without this bundle succeeding.
func (st *writeState) awaitPending(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		st.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("records not acknowledged within %v", st.timeout)
		}
		return ctx.Err()
	}
}

func (fn *writeFn) Teardown() error {
	if fn.st != nil {
		fn.st.close()
	}
	return nil
}
