package kafka

import (
	"context"
	"errors"
	"math"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	// minEvictAfter is the least time a cached partition client may sit
	// unused before it is closed.
	minEvictAfter = time.Minute
	// openTimeout bounds creating a partition client and listing its
	// high-water mark.
	openTimeout = 30 * time.Second
	// drainPause is how soon a drained read's residual comes back.
	drainPause = 50 * time.Millisecond
)

// readFn is the splittable DoFn that reads one topic-partition per element.
//
// The restriction is an offset range [Start, End) with End = math.MaxInt64
// (a growable range; the end estimate is the partition's high-water mark).
// Every call reads for at most MaxReadTime, then checkpoints itself with
// sdf.ResumeProcessingIn: the residual restriction starts at the next
// offset to read, so the runner's copy of the residual is the durable read
// position. Runner-initiated splits are refused (see partitionTracker).
//
// Offsets are committed to the group when a restriction resumes: a runner
// hands back a residual only after it has committed the bundle that
// produced it, outputs included, so every record before the residual's
// start has been processed. (Bundle finalization would say the same one
// bundle earlier, but in Beam Go v2.77 it only works for the first bundle
// of each plan: Plan.Finalize replaces the finalizer the DoFns hold, so
// later callbacks are never called, and pile up.)
//
// Exported fields travel JSON-serialised in the pipeline; the rest is
// per-instance state built in Setup.
type readFn struct {
	Client            ClientConfig
	Group             string
	StartOffset       string
	StrictOffsetReset bool `json:",omitempty"`
	MaxReadTime       time.Duration
	IdleDelay         time.Duration
	MaxSkew           time.Duration
	IdleWallClock     bool `json:",omitempty"`

	st *readState
}

type topicPartition struct {
	topic     string
	partition int32
}

func (fn *readFn) Setup() error {
	opts, err := fn.Client.Options()
	if err != nil {
		return err
	}
	fn.st = &readState{
		base:    opts,
		reset:   resetOffset(fn.StartOffset, fn.StrictOffsetReset),
		evict:   max(minEvictAfter, 10*fn.MaxReadTime),
		readers: make(map[topicPartition]*partitionReader),
	}
	if fn.Group != "" {
		fn.st.commits = newCommitter(fn.Group, opts)
	}
	registerRead(fn.st)
	// Beam Go's harness (v2.77) never calls Teardown: plans stay cached
	// until the worker exits. Close the clients when the DoFn instance is
	// garbage, so that an ended job does not leave them reconnecting.
	runtime.AddCleanup(fn, func(st *readState) { st.close() }, fn.st)
	return nil
}

func (fn *readFn) Teardown() error {
	if fn.st != nil {
		fn.st.close()
	}
	return nil
}

func (fn *readFn) CreateInitialRestriction(p partitionDesc) offsetrange.Restriction {
	return offsetrange.Restriction{Start: p.Start, End: math.MaxInt64}
}

// SplitRestriction does not split: a partition is read in order by one
// reader, and partitions are the unit of parallelism.
func (fn *readFn) SplitRestriction(_ partitionDesc, rest offsetrange.Restriction) []offsetrange.Restriction {
	return []offsetrange.Restriction{rest}
}

// RestrictionSize is the backlog: the records between the restriction start
// and the high-water mark last seen (by this instance's client of the
// partition, else when the partition was listed).
func (fn *readFn) RestrictionSize(p partitionDesc, rest offsetrange.Restriction) float64 {
	end := p.End
	if fn.st != nil {
		if hwm, ok := fn.st.highWatermark(topicPartition{p.Topic, p.Partition}); ok {
			end = max(end, hwm)
		}
	}
	end = min(end, rest.End)
	return math.Max(0, float64(end-rest.Start))
}

func (fn *readFn) CreateTracker(rest offsetrange.Restriction) (*sdf.LockRTracker, error) {
	if rest.End != math.MaxInt64 {
		return sdf.NewLockRTracker(offsetrange.NewTracker(rest)), nil
	}
	end := &endEstimator{}
	gt, err := offsetrange.NewGrowableTracker(rest, end)
	if err != nil {
		return nil, err
	}
	return sdf.NewLockRTracker(&partitionTracker{GrowableTracker: gt, end: end}), nil
}

// TruncateRestriction, called when a runner drains the pipeline, ends the
// read where it stands.
func (fn *readFn) TruncateRestriction(rt *sdf.LockRTracker, _ partitionDesc) offsetrange.Restriction {
	start := rt.GetRestriction().(offsetrange.Restriction).Start
	return offsetrange.Restriction{Start: start, End: start}
}

func (fn *readFn) InitialWatermarkEstimatorState(et beam.EventTime, _ offsetrange.Restriction, _ partitionDesc) int64 {
	return et.Milliseconds()
}

func (fn *readFn) CreateWatermarkEstimator(state int64) *watermarkEstimator {
	return newWatermarkEstimator(state, fn.MaxSkew)
}

func (fn *readFn) WatermarkEstimatorState(we *watermarkEstimator) int64 {
	return we.state()
}

// ProcessElement commits the restriction's start to the group (see
// readFn), then reads the partition of p from there for at most
// MaxReadTime, emitting each record with its timestamp as event time, and
// checkpoints: at once if it read until the deadline, after IdleDelay if
// the partition ran dry (then the watermark moves to now minus MaxSkew).
// It stops only when the restriction is bounded and done (after a drain).
func (fn *readFn) ProcessElement(ctx context.Context, we *watermarkEstimator, rt *sdf.LockRTracker, p partitionDesc, emit func(beam.EventTime, Record)) (sdf.ProcessContinuation, error) {
	rest := rt.GetRestriction().(offsetrange.Restriction)
	tp := topicPartition{p.Topic, p.Partition}
	if fn.st.commits != nil {
		fn.st.commits.note(tp, rest.Start)
	}
	if rest.Start >= rest.End {
		return sdf.StopProcessing(), nil
	}
	if draining(fn.Group) {
		// The process stops (drain.go): nothing more is read; the
		// residual comes back until the job is cancelled.
		return sdf.ResumeProcessingIn(drainPause), nil
	}
	pr, err := fn.st.reader(ctx, tp, rest.Start)
	if err != nil {
		if ctx.Err() == nil && Unreachable(err) {
			// The broker is down or unreachable: try again later rather
			// than fail the job, as a consumer would.
			log.Warnf(ctx, "kafka: read %s[%d]@%d: broker unreachable, retrying in %v: %v", tp.topic, tp.partition, rest.Start, fn.IdleDelay, err)
			return sdf.ResumeProcessingIn(fn.IdleDelay), nil
		}
		return sdf.StopProcessing(), err
	}
	defer fn.st.release(pr)
	if t, ok := rt.Rt.(*partitionTracker); ok {
		t.end.bind(pr)
	}

	next := rest.Start // the next offset to read
	idle := false
	deadline := time.Now().Add(fn.MaxReadTime)
	for !rt.IsDone() && !draining(fn.Group) {
		wait := min(time.Until(deadline), fn.IdleDelay)
		if wait <= 0 {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := pr.cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			pr.broken = true
			return sdf.StopProcessing(), err
		}
		if err := fetchError(fetches); err != nil {
			pr.broken = true
			return sdf.StopProcessing(), &PartitionError{Op: "read", Topic: tp.topic, Partition: tp.partition, Offset: next, Err: err}
		}
		got, stopped := false, false
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			pr.observeHighWatermark(fp.HighWatermark)
			for _, r := range fp.Records {
				if stopped || r.Offset < next {
					continue // stale: before a re-seek, or already read
				}
				got = true
				if !rt.TryClaim(r.Offset) {
					stopped = true
					continue
				}
				next = r.Offset + 1
				if r.Attrs.IsControl() {
					continue // transaction markers take an offset, not a record
				}
				emit(mtime.FromTime(r.Timestamp), fromKgo(r))
			}
		})
		pr.next = next
		if stopped {
			// Records after the claim limit were dropped from the client's
			// buffer: its position is no longer next.
			pr.broken = true
			break
		}
		if !got && next >= pr.highWatermark() {
			idle = true
			break
		}
	}

	if rt.IsDone() {
		return sdf.StopProcessing(), nil
	}
	if idle {
		we.advance(time.Now().Add(-fn.MaxSkew))
		return sdf.ResumeProcessingIn(fn.IdleDelay), nil
	}
	return sdf.ResumeProcessingIn(0), nil
}

// Unreachable reports whether err means that the cluster could not be
// reached (a refused or failed dial, a dropped connection, a request
// timing out) rather than that it answered with an error. Reads retry
// such errors, as Kafka consumers do, instead of failing.
func Unreachable(err error) bool {
	if ne, ok := errors.AsType[*net.OpError](err); ok && ne.Op == "dial" {
		return true
	}
	return kgo.IsRetryableBrokerErr(err) || errors.Is(err, context.DeadlineExceeded)
}

// Retriable reports whether a fetch error is one a read waits out rather
// than fails on: the poll's own deadline or cancellation, an error Kafka
// marks retriable, or a cluster that cannot be reached (franz-go retries
// those itself; the read waits, as any Kafka consumer does, and an
// operator sees it in readiness, not in a failed job).
func Retriable(err error) bool {
	return errors.Is(err, context.Canceled) || kerr.IsRetriable(err) || Unreachable(err)
}

// fetchError returns the first error of a poll that is not Retriable.
func fetchError(fs kgo.Fetches) error {
	var first error
	fs.EachError(func(_ string, _ int32, err error) {
		if first != nil || Retriable(err) {
			return
		}
		first = OffsetError(err)
	})
	return first
}

// readState is the per-instance state of readFn: one franz-go client per
// partition, kept across bundles, and the committer.
//
// Lock order: mu only; it is never held across a network call. A
// partitionReader is used by one ProcessElement at a time (it is taken out
// of the idle set while in use), so its cl, next and broken fields need no
// lock; hwm is atomic because the runner's progress and split requests read
// it from other goroutines.
type readState struct {
	base  []kgo.Opt
	reset kgo.Offset
	evict time.Duration

	commits *committer // nil without a group

	mu      sync.Mutex
	closed  bool
	readers map[topicPartition]*partitionReader
}

type partitionReader struct {
	tp       topicPartition
	cl       *kgo.Client
	next     int64 // offset the client returns next, unless broken
	broken   bool  // position unknown: recreate before use
	inUse    bool
	lastUsed time.Time
	hwm      atomic.Int64
}

func (pr *partitionReader) observeHighWatermark(hwm int64) {
	for {
		cur := pr.hwm.Load()
		if hwm <= cur || pr.hwm.CompareAndSwap(cur, hwm) {
			return
		}
	}
}

func (pr *partitionReader) highWatermark() int64 { return pr.hwm.Load() }

// reader returns the client of tp positioned at start: the cached one if it
// is there already, else the cached one moved forward (records before start
// are then skipped by the caller), else a new one.
func (st *readState) reader(ctx context.Context, tp topicPartition, start int64) (*partitionReader, error) {
	now := time.Now()
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil, &PartitionError{Op: "read", Topic: tp.topic, Partition: tp.partition, Offset: start, Err: kgo.ErrClientClosed}
	}
	var stale []*kgo.Client
	for k, r := range st.readers {
		if k != tp && !r.inUse && now.Sub(r.lastUsed) > st.evict {
			stale = append(stale, r.cl)
			delete(st.readers, k)
		}
	}
	pr := st.readers[tp]
	if pr != nil && (pr.inUse || pr.broken || start < pr.next) {
		if !pr.inUse {
			stale = append(stale, pr.cl)
			delete(st.readers, tp)
		}
		pr = nil
	}
	if pr != nil {
		pr.inUse = true
	}
	st.mu.Unlock()
	for _, cl := range stale {
		cl.Close()
	}

	if pr != nil {
		if start > pr.next {
			// Skip ahead: another instance read [pr.next, start). If
			// SetOffsets finds the partition not yet consumed it does
			// nothing, and the records before start are skipped instead.
			pr.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{tp.topic: {tp.partition: {Epoch: -1, Offset: start}}})
			pr.next = start
		}
		return pr, nil
	}
	return st.open(ctx, tp, start)
}

// open creates the client of tp at start and learns the partition's
// high-water mark, so that an empty or caught-up partition is known idle.
func (st *readState) open(ctx context.Context, tp topicPartition, start int64) (*partitionReader, error) {
	fail := func(err error) error {
		return &PartitionError{Op: "read", Topic: tp.topic, Partition: tp.partition, Offset: start, Err: err}
	}
	opts := append(slices.Clone(st.base),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{tp.topic: {tp.partition: kgo.NewOffset().At(start)}}),
		kgo.ConsumeResetOffset(st.reset),
		kgo.KeepControlRecords(),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, tp.topic)
	if err == nil {
		if o, ok := ends.Lookup(tp.topic, tp.partition); !ok {
			err = kerr.UnknownTopicOrPartition
		} else if o.Err != nil {
			err = o.Err
		}
	}
	if err != nil {
		cl.Close()
		return nil, fail(err)
	}
	o, _ := ends.Lookup(tp.topic, tp.partition)
	pr := &partitionReader{tp: tp, cl: cl, next: start, inUse: true}
	pr.hwm.Store(o.Offset)

	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		cl.Close()
		return nil, fail(kgo.ErrClientClosed)
	}
	if old := st.readers[tp]; old != nil && !old.inUse {
		old.cl.Close()
	}
	st.readers[tp] = pr
	return pr, nil
}

// release returns pr to the idle set after a ProcessElement.
func (st *readState) release(pr *partitionReader) {
	st.mu.Lock()
	defer st.mu.Unlock()
	pr.inUse = false
	pr.lastUsed = time.Now()
	if st.closed || st.readers[pr.tp] != pr {
		pr.cl.Close() // replaced or shut down while in use
	}
}

func (st *readState) highWatermark(tp topicPartition) (int64, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if pr := st.readers[tp]; pr != nil {
		return pr.highWatermark(), true
	}
	return 0, false
}

// close closes every client, readers in use when they are released, and
// the committer after a last commit. It is idempotent.
func (st *readState) close() {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return
	}
	st.closed = true
	unregisterRead(st)
	var cls []*kgo.Client
	for _, pr := range st.readers {
		if !pr.inUse {
			cls = append(cls, pr.cl)
		}
	}
	st.mu.Unlock()
	for _, cl := range cls {
		cl.Close()
	}
	if st.commits != nil {
		st.commits.close()
	}
}
