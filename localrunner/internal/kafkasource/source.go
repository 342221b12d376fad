// Package kafkasource is the local runner's native kafka.Read: a member of
// the read's consumer group that feeds the records of the partitions Kafka
// assigns it to the engine in batches, and commits offsets only for records
// the engine has acknowledged (every output derived from them processed by
// every downstream stage).
//
// # Ownership and locks
//
// Run's goroutine polls, encodes and hands batches on, and commits on the
// commit policy. franz-go's group goroutine calls the revoke and lost
// callbacks. The engine's owner goroutine calls Batch.Ack. They share the
// partition table under mu, the only lock, which is never held across a
// network call or a channel send.
//
// # Commits
//
// Each partition keeps its in-flight batches in offset order. An ack marks
// a batch done; the partition's committable position is one past the last
// offset of the longest done prefix, so batches completing out of order
// never let a commit pass unfinished work. A commit sends the committable
// positions that moved since the last commit.
//
// The in-flight bounds count batches handed on and neither acknowledged
// nor released: Batch.Release uncounts a batch whose only remaining work
// waits in windows (of a GroupByKey) without making it committable.
//
// A commit of the poll loop and one of a revoke callback may race: the
// loop builds its request before the revoke and sends it after. Both only
// name done work, so the worst case is a position committed lower than
// another member's newer one: records processed again, never lost.
//
// # Files
//
// source.go (Config, New, Run and the poll loop), batch.go (what the
// engine acknowledges), watermark.go, commit.go, assign.go (assignment,
// revocation and loss of partitions) and stop.go (what a stop committed).
package kafkasource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/shuffle"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// exactlyOnceInflight bounds the records in flight of an exactly-once
// source whose cuts drain the pipeline (without Config.SyncCuts): each
// cut waits for them (70-110 ms a cut at 10,000 with the seed pipeline).
const exactlyOnceInflight = 10_000

// Config of a source.
type Config struct {
	Read *plan.KafkaRead
	// MaxBatch is the most records in one batch (> 0).
	MaxBatch int
	// CommitInterval and CommitRecords are the commit policy: commit when
	// CommitInterval has passed since the last commit or CommitRecords
	// records were acknowledged since, whichever comes first.
	CommitInterval time.Duration
	CommitRecords  int
	// MaxInflightRecords and MaxInflightBytes bound what the source has
	// handed on and not had acknowledged: over either, it does not poll.
	MaxInflightRecords int
	MaxInflightBytes   int64
	// RevokeTimeout bounds the wait for the in-flight batches of revoked
	// partitions before their final commit.
	RevokeTimeout time.Duration
	// ClientOpts are appended to the client options of the read.
	ClientOpts []kgo.Opt
	Logger     *slog.Logger
	// Report, when set, is called on the poll goroutine about once every
	// ReportInterval with the source's state, and at once when its
	// assignment changed. It must be quick.
	Report func(Report)
	// Committed, when set, is called after each offset commit request, on
	// the goroutine that made it.
	Committed func(CommitEvent)
	// Resume, when set, gives the position to read an assigned partition
	// from (the offset of the next record), when the runner's durable
	// state has one: it wins over the group's committed offset when it is
	// ahead of it (the state was saved, the commit that followed was not).
	// It is called once per assignment of a partition, before the
	// partition is fetched (the engine restores the partition's state
	// then), on franz-go's group goroutine.
	Resume func(topic string, partition int32) (next int64, ok bool)
	// PurgeInterval, when > 0, deletes the records of each partition
	// this source reads below its committed position, at most once per
	// interval (purge.go): for the runner's own topics (shuffles), whose
	// records nobody reads once committed.
	PurgeInterval time.Duration
	// Release, when set, is called when partitions of topic are revoked
	// while the source runs, on franz-go's group goroutine, after the
	// wait for their batches in flight and before their offsets are
	// committed: the engine drops their tasks and waits for the tasks'
	// changelog appends, so that none lands after the partitions' next
	// owner restored them. Until it returns the rebalance waits.
	Release func(topic string, partitions []int32)
	// ResumeMarks gives the partition's read state (Batch.Marks) saved
	// with the position Resume gave, when reading resumes there: a
	// shuffle read's marks, a Kafka read's newest record timestamp. Set,
	// it makes every batch carry its Marks.
	ResumeMarks func(topic string, partition int32) []byte
	// SyncCuts, under exactly-once, makes the engine part of each cut
	// (txn.go): the source emits Event{Cut} when it stops handing batches
	// on, ends the transaction only once CutReady was called as well, and
	// emits Event{TxnEnded} after. A durable run sets it: its state (the
	// changelog records of the checkpoint at the cut) commits in the
	// transaction too.
	SyncCuts bool
	// EndOfInput, when closed, says no record is produced any more (the
	// development loop's bounded input): once a partition is then caught
	// up, its watermark is the end of time, so every window closes.
	EndOfInput <-chan struct{}
}

// ReportInterval is how often a source reports its state.
const ReportInterval = time.Second

// Report is a source's state.
type Report struct {
	Group      string
	Partitions []PartitionReport // assigned and not revoked, in order
	// InflightRecords and InflightBytes are what the source handed on and
	// has not had acknowledged.
	InflightRecords int
	InflightBytes   int64
}

// PartitionReport is the state of one assigned partition.
type PartitionReport struct {
	Topic     string
	Partition int32
	// HighWatermark is the partition's end offset at the last fetch that
	// returned records of it; -1 before one.
	HighWatermark int64
	// Committed is the group's committed position: read at assignment,
	// then the last one this member committed; -1 none.
	Committed int64
	// Start is the offset of the first record fetched; -1 before one.
	Start int64
	// Watermark is the partition's contribution to the source watermark.
	Watermark time.Time
}

// CommitEvent describes one offset commit request.
type CommitEvent struct {
	Group      string
	Partitions int // partitions whose position moved
	Elapsed    time.Duration
	Err        error
}

// Event is what a source hands the engine: news of partitions, a batch,
// a new watermark, or several; the engine takes them in that order.
// Watermark is the source's output watermark (it only grows).
type Event struct {
	Partitions []PartitionEvent
	Batch      *Batch
	Watermark  mtime.Time
	// Cut and TxnEnded (with Committed, the outcome) frame the end of a
	// transaction, under Config.SyncCuts.
	Cut, TxnEnded, Committed bool
}

// PartitionEvent is news of one partition: it was assigned (before any
// batch of it), its watermark moved, or it was revoked or lost (no batch
// of it follows until it is assigned again).
type PartitionEvent struct {
	Topic     string
	Partition int32
	// Assigned is set when the partition was assigned; Resumed then says
	// whether reading starts at the position Config.Resume gave (else at
	// the group's committed offset, or the reset offset).
	Assigned, Resumed bool
	// Gone is set when the partition was revoked or lost.
	Gone bool
	// Idle, with a watermark, says whether the partition is idle: caught
	// up, nothing new for IdleDelay (see watermark.go).
	Idle bool
	// Watermark, when not zero, is the partition's watermark: its newest
	// record timestamp minus MaxSkew, or later when it is idle (see
	// watermark.go). It only grows while the partition stays assigned.
	Watermark mtime.Time
}

type topicPartition struct {
	topic     string
	partition int32
}

type partition struct {
	tp        topicPartition
	inflight  []*Batch // offset order
	committed int64    // last position committed (by the group at assignment, then by this member), -1 none
	done      int64    // committable position, -1 none
	purged    int64    // the log start offset the last purge left (purge.go)
	maxTS     mtime.Time
	lastSeen  time.Time // last record, or assignment
	revoked   bool
	hwm       int64 // high watermark at the last fetch with records, -1 none
	start     int64 // first offset fetched, -1 none
	next      int64 // offset after the last record fetched, -1 none
	// empty is set when a probe found nothing to read in a partition
	// that never returned a record (hwm < 0); probed is when it ran.
	empty  bool
	probed time.Time
	// adjusted is set once the fetch offset is chosen (adjustOffsets),
	// resumed when it is Resume's; announced once the engine was told of
	// the assignment. lastWM is the watermark last reported.
	adjusted, resumed, announced bool
	from                         int64 // the offset chosen at adjustment (negative: the reset offset)
	lastWM                       mtime.Time
	idleSent                     bool // idle as last reported
	// marks are a shuffle read's (shuffle.go).
	marks *shuffle.Marks
}

// Source is one consumer-group member.
type Source struct {
	cfg Config
	log *slog.Logger
	// enc and wenc encode records (encode); direct is set when they are
	// written directly rather than through enc.
	enc    exec.ElementEncoder
	wenc   exec.WindowEncoder
	direct bool
	// wdec decodes the elements of a shuffle read; dupes counts the
	// records it dropped as read before.
	wdec  exec.WindowDecoder
	dupes int64

	mu         sync.Mutex
	parts      map[topicPartition]*partition
	inflightN  int
	inflightB  int64
	ackedSince int
	closing    bool
	pausedAt   time.Time // over the in-flight bounds since, zero when not
	// buffered returns the number of records the client fetched and the
	// source did not poll yet (set before polling starts).
	buffered   func() int64
	wake       chan struct{} // buffered: an ack arrived
	lastWM     mtime.Time
	reassigned bool // the assignment changed since the last report
	lastPurge  time.Time
	// purgeDenied: the principal may not delete records (purge.go).
	purgeDenied bool
	// uncommitted are the partitions lost, or revoked with a failed
	// commit, with processed records whose offsets were not committed.
	uncommitted map[topicPartition]uncommitted
	// gone are the partitions revoked or lost since the last event.
	gone []topicPartition
	// endSeen is when the source first saw Config.EndOfInput closed.
	endSeen time.Time
	// txn is set under exactly-once (txn.go).
	txn *txnState
}

// New returns a source; it connects in Run.
func New(cfg Config) (*Source, error) {
	if cfg.Read == nil {
		return nil, errors.New("localrunner: kafka source without a read")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{
		cfg:    cfg,
		log:    cfg.Logger.With("group", cfg.Read.Config.Group, "topics", cfg.Read.Config.Topics),
		parts:  map[topicPartition]*partition{},
		wake:   make(chan struct{}, 1),
		lastWM: mtime.MinTimestamp,
		enc:    exec.MakeElementEncoder(cfg.Read.Coder),
		wenc:   exec.MakeWindowEncoder(cfg.Read.Coder.Window),
		wdec:   exec.MakeWindowDecoder(cfg.Read.Coder.Window),
	}
	if !cfg.Read.Shuffle {
		s.direct = s.directEncodes()
	}
	if rc := cfg.Read.Config; rc.ExactlyOnce {
		s.txn = &txnState{sess: new(atomic.Pointer[kgo.GroupTransactSession]), id: transactionalID(rc.Group)}
		if !cfg.SyncCuts {
			// Each cut drains what is in flight (txn.go): fewer records
			// in flight, a shorter stop.
			s.cfg.MaxInflightRecords = min(s.cfg.MaxInflightRecords, exactlyOnceInflight)
		}
	}
	return s, nil
}

// encode appends a record to buf as a windowed value in the global window
// at the record's timestamp, as the read's coder writes it: directly (the
// windowed-value header, then kafka.AppendRecordElement) when that gives
// the coder's bytes, through the coder otherwise.
func (s *Source) encode(r *kgo.Record, buf *bytes.Buffer) error {
	ts := mtime.FromTime(r.Timestamp)
	if !s.direct {
		fv := &exec.FullValue{Elm: kafka.RecordFromKgo(r), Timestamp: ts, Windows: window.SingleGlobalWindow, Pane: typex.NoFiringPane()}
		return s.enc.Encode(fv, buf)
	}
	if err := exec.EncodeWindowedValueHeader(s.wenc, window.SingleGlobalWindow, ts, typex.NoFiringPane(), buf); err != nil {
		return err
	}
	b, err := kafka.AppendRecordElement(buf.AvailableBuffer(), r)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}

// encodedSize is about the size of recs encoded: their bytes, and room
// for each one's windowed-value header, lengths and numbers.
func encodedSize(recs []*kgo.Record) int {
	n := 0
	for _, r := range recs {
		n += len(r.Topic) + len(r.Key) + len(r.Value) + 64
		for _, h := range r.Headers {
			n += len(h.Key) + len(h.Value) + 8
		}
	}
	return n
}

// directEncodes reports whether encoding records directly gives the
// read's coder's bytes (it does for the Record coder the SDK registers).
func (s *Source) directEncodes() bool {
	r := &kgo.Record{Topic: "t", Partition: 3, Offset: 1 << 40, Key: []byte("k"), Value: []byte("value"),
		Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}, {Key: "n"}}, Timestamp: time.UnixMilli(1_700_000_000_123)}
	var coded, direct bytes.Buffer
	s.direct = false
	if err := s.encode(r, &coded); err != nil {
		return false
	}
	s.direct = true
	if err := s.encode(r, &direct); err != nil {
		return false
	}
	return bytes.Equal(coded.Bytes(), direct.Bytes())
}

// Run joins the group and feeds emit until ctx is done (then it stops
// fetching) and either every batch it handed on is acknowledged or
// finished is closed (the engine will acknowledge nothing more); then it
// commits what is done, leaves the group and returns. emit returns false
// once the engine no longer takes events. A non-nil error is a failure of
// the read.
func (s *Source) Run(ctx context.Context, emit func(Event) bool, finished <-chan struct{}) error {
	rc := s.cfg.Read.Config
	opts, err := rc.Client.Options()
	if err != nil {
		return fmt.Errorf("localrunner: kafka read: %w", err)
	}
	start, reset := startOffsets(rc)
	// A crashed member holds its partitions until its session expires:
	// 10s rather than Kafka's 45s, unless the read's client properties
	// (session.timeout.ms, heartbeat.interval.ms) or ClientOpts say
	// otherwise: they come after.
	opts = append([]kgo.Opt{kgo.SessionTimeout(10 * time.Second), kgo.HeartbeatInterval(time.Second)}, opts...)
	opts = append(opts,
		kgo.ConsumerGroup(rc.Group),
		kgo.ConsumeTopics(rc.Topics...),
		kgo.ConsumeStartOffset(start),
		kgo.ConsumeResetOffset(reset),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
	)
	opts = append(opts, kgo.AdjustFetchOffsetsFn(s.adjustOffsets))
	opts = append(opts, s.cfg.ClientOpts...)
	cl, err := s.newClient(opts)
	if err != nil {
		return fmt.Errorf("localrunner: kafka read: client: %w", err)
	}
	defer func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		cl.Close() // leaves the group; the revoke callback commits nothing new
	}()

	s.buffered = cl.BufferedFetchRecords
	runErr := s.poll(ctx, cl, emit, finished)
	for errors.Is(runErr, errFenced) && ctx.Err() == nil {
		next, err := s.rejoin(cl, opts, runErr)
		if err != nil {
			return err // cl is closed
		}
		cl = next
		runErr = s.poll(ctx, cl, emit, finished)
	}
	// Drain: wait for the acknowledgements, or for the engine to end.
	// Batches released to windows are not waited for: they wait for the
	// watermark, which no longer moves; they are not committed either.
	for runErr == nil {
		s.mu.Lock()
		n := s.inflightN
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-s.wake:
		case <-finished:
			n = 0
		}
		if n == 0 {
			break
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if s.exactlyOnce() {
		err = s.finalTxn(cctx)
	} else {
		err = s.commit(cctx, cl)
	}
	if err != nil {
		s.log.Warn("localrunner: final kafka commit failed", "error", err)
	}
	if s.cfg.Report != nil {
		s.cfg.Report(s.report()) // the final commit's positions
	}
	s.logStop(err)
	return runErr
}

// startOffsets returns where a partition without a committed offset
// starts (StartOffset; "error" fails the partition) and where one whose
// position is outside its log (records deleted, topic recreated) resumes:
// per StartOffset as well, or nowhere (the partition fails with
// OFFSET_OUT_OF_RANGE) under StrictOffsetReset or StartOffset "error".
func startOffsets(rc kafka.ReadConfig) (start, reset kgo.Offset) {
	switch rc.StartOffset {
	case kafka.StartEarliest:
		start = kgo.NewOffset().AtStart()
	case kafka.StartError:
		start = kgo.NewOffset().AtCommitted()
	default:
		start = kgo.NewOffset().AtEnd()
	}
	if rc.StrictOffsetReset || rc.StartOffset == kafka.StartError {
		return start, kgo.NoResetOffset()
	}
	return start, start
}

// poll feeds batches until ctx is done.
func (s *Source) poll(ctx context.Context, cl *kgo.Client, emit func(Event) bool, finished <-chan struct{}) error {
	lastCommit := time.Now()
	var lastReport time.Time
	idle := s.cfg.Read.Config.IdleDelay
	tick := min(idle, 100*time.Millisecond)
	for ctx.Err() == nil {
		// A transaction ends on the interval only: each one stops the
		// source until the pipeline has caught up (txn.go).
		if time.Since(lastCommit) >= s.cfg.CommitInterval || (!s.exactlyOnce() && s.acked() >= s.cfg.CommitRecords) {
			if s.exactlyOnce() {
				if err := s.commitTxn(ctx, emit, finished); err != nil {
					return err
				}
			} else if err := s.commit(ctx, cl); err != nil && ctx.Err() == nil {
				s.log.Warn("localrunner: kafka commit failed", "error", err)
			}
			lastCommit = time.Now()
			s.purge(ctx, cl)
		}
		// After the commit, so that a report shows the positions it
		// committed.
		if s.cfg.Report != nil && (time.Since(lastReport) >= ReportInterval || s.takeReassigned()) {
			s.cfg.Report(s.report())
			lastReport = time.Now()
		}
		if s.overBudget() {
			select {
			case <-s.wake:
			case <-time.After(tick):
			case <-ctx.Done():
			}
			if !s.emitWatermarks(emit) {
				return nil
			}
			continue
		}
		s.probe(ctx, cl)
		pctx, cancel := context.WithTimeout(ctx, tick)
		fs := cl.PollRecords(pctx, s.cfg.MaxInflightRecords)
		cancel()
		if ctx.Err() != nil {
			// Records of this poll are not handed on: they are not
			// committed either, so the group delivers them again.
			return nil
		}
		if err := s.fetchError(fs); err != nil {
			return fmt.Errorf("localrunner: kafka read: %w", err)
		}
		if pe := s.announcements(); len(pe) > 0 && !emit(Event{Partitions: pe, Watermark: mtime.MinTimestamp}) {
			return nil
		}
		for _, b := range s.batches(fs) {
			if !emit(Event{Batch: b, Watermark: mtime.MinTimestamp}) {
				return nil
			}
		}
		if !s.emitWatermarks(emit) {
			return nil
		}
	}
	return nil
}

// emitWatermarks hands on the source's and the partitions' watermarks that
// moved, and the partitions gone; it returns false when emit did.
func (s *Source) emitWatermarks(emit func(Event) bool) bool {
	pe := append(s.announcements(), s.partitionWatermarks()...)
	wm, ok := s.watermark()
	if !ok {
		wm = mtime.MinTimestamp
	}
	if !ok && len(pe) == 0 {
		return true
	}
	return emit(Event{Partitions: pe, Watermark: wm})
}

// probe checks, at most once per max(IdleDelay, time.Second), whether the
// partitions that never returned a record and have waited IdleDelay have
// anything to read: the group's committed position (or, without one,
// where the read starts) at their end offset. Those are marked empty, so
// they may count as idle; on any error nothing is marked (a partition
// never wrongly idle is the safe side: it holds the watermark).
func (s *Source) probe(ctx context.Context, cl *kgo.Client) {
	rc := s.cfg.Read.Config
	now := time.Now()
	var due []*partition
	s.mu.Lock()
	for _, p := range s.parts {
		if !p.revoked && p.hwm < 0 && !p.empty && now.Sub(p.lastSeen) >= rc.IdleDelay && now.Sub(p.probed) >= max(rc.IdleDelay, time.Second) {
			p.probed = now
			due = append(due, p)
		}
	}
	s.mu.Unlock()
	if len(due) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, max(rc.IdleDelay, time.Second))
	defer cancel()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, rc.Topics...)
	if err != nil {
		return
	}
	starts, err := adm.ListStartOffsets(ctx, rc.Topics...)
	if err != nil {
		return
	}
	committed, err := adm.FetchOffsets(ctx, rc.Group)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range due {
		end, ok := ends.Lookup(p.tp.topic, p.tp.partition)
		if !ok || end.Err != nil {
			continue
		}
		pos := int64(-1)
		if c, ok := committed.Lookup(p.tp.topic, p.tp.partition); ok && c.Err == nil && c.At >= 0 {
			pos = c.At
		} else {
			switch rc.StartOffset {
			case kafka.StartEarliest:
				if st, ok := starts.Lookup(p.tp.topic, p.tp.partition); ok && st.Err == nil {
					pos = st.Offset
				}
			case kafka.StartError:
			default: // latest: the read starts at the end
				pos = end.Offset
			}
		}
		if p.resumed && p.from > pos {
			// Resumed from saved state ahead of the group's offset.
			pos = p.from
		}
		p.empty = pos >= 0 && pos >= end.Offset
	}
}

// fetchError returns the first error of a poll that fails the read: not
// the poll's deadline, not retriable, and not a group error (franz-go
// reports those without a topic and keeps rejoining by itself; a
// restarted member may wait for a crashed one's session to expire).
func (s *Source) fetchError(fs kgo.Fetches) error {
	var first error
	fs.EachError(func(t string, p int32, err error) {
		if first != nil || kafka.Retriable(err) {
			return
		}
		if t == "" {
			s.log.Warn("localrunner: kafka group error, retrying", "error", err)
			return
		}
		first = fmt.Errorf("topic %s partition %d: %w", t, p, kafka.OffsetError(err))
	})
	return first
}

func (s *Source) acked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ackedSince
}

// overBudget reports whether the source is over its in-flight bounds, so
// must not poll. The partitions' idle clocks (IdleDelay) stop while it is:
// a partition the source does not read is not idle.
func (s *Source) overBudget() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	over := s.inflightN >= s.cfg.MaxInflightRecords || s.inflightB >= s.cfg.MaxInflightBytes
	switch now := time.Now(); {
	case over && s.pausedAt.IsZero():
		s.pausedAt = now
	case !over && !s.pausedAt.IsZero():
		// Polling time since lastSeen is what counts: a partition last
		// seen before the pause resumes where it was, one seen (or
		// assigned) during the pause starts now.
		for _, p := range s.parts {
			p.lastSeen = now.Add(-max(s.pausedAt.Sub(p.lastSeen), 0))
		}
		s.pausedAt = time.Time{}
	}
	return over
}

// batches encodes the records of a poll, per partition, in batches of at
// most MaxBatch records, and registers them in flight. Records of
// partitions no longer assigned are dropped (not committed either).
func (s *Source) batches(fs kgo.Fetches) []*Batch {
	var out []*Batch
	now := time.Now()
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		if s.cfg.Read.Shuffle {
			out = append(out, s.shuffleFetched(fp, now)...)
			return
		}
		var cur *Batch
		var buf *bytes.Buffer
		var encoded []*Batch
		for i, r := range fp.Records {
			if cur == nil {
				cur = &Batch{src: s, MinTS: mtime.MaxTimestamp, maxTS: mtime.MinTimestamp, First: r.Offset}
				// A buffer of the batch's size, handed on as it is: no
				// growing, no copy.
				buf = bytes.NewBuffer(make([]byte, 0, encodedSize(fp.Records[i:min(i+s.cfg.MaxBatch, len(fp.Records))])))
			}
			ts := mtime.FromTime(r.Timestamp)
			if err := s.encode(r, buf); err != nil {
				// The Record coder encodes every record; a failure is a bug.
				s.log.Error("localrunner: encoding a kafka record", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "error", err)
				continue
			}
			cur.Ends = append(cur.Ends, buf.Len())
			cur.MinTS, cur.maxTS = min(cur.MinTS, ts), max(cur.maxTS, ts)
			cur.last = r.Offset
			cur.records++
			if cur.records >= s.cfg.MaxBatch {
				cur.Data = buf.Bytes()
				encoded = append(encoded, cur)
				cur = nil
			}
		}
		if cur != nil && cur.records > 0 {
			cur.Data = buf.Bytes()
			encoded = append(encoded, cur)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.parts[topicPartition{fp.Topic, fp.Partition}]
		if p == nil || p.revoked {
			return
		}
		s.markTimes(p, encoded)
		out = append(out, s.register(p, encoded, fp, now)...)
	})
	return out
}

// shuffleFetched is batches for a shuffle read (shuffle.go).
func (s *Source) shuffleFetched(fp kgo.FetchTopicPartition, now time.Time) []*Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.parts[topicPartition{fp.Topic, fp.Partition}]
	if p == nil || p.revoked {
		return nil
	}
	return s.register(p, s.shuffleBatches(p, fp), fp, now)
}

// register puts the batches of a fetched partition in flight and notes
// how far it was read. Called with mu held.
func (s *Source) register(p *partition, encoded []*Batch, fp kgo.FetchTopicPartition, now time.Time) []*Batch {
	for _, b := range encoded {
		b.part = p
		b.bytes = int64(len(b.Data))
		s.inflightN += b.records
		s.inflightB += b.bytes
		p.inflight = append(p.inflight, b)
	}
	if s.txn != nil {
		s.txn.open += len(encoded)
	}
	p.lastSeen = now
	p.hwm = fp.HighWatermark
	p.next = fp.Records[len(fp.Records)-1].Offset + 1
	if p.start < 0 {
		p.start = fp.Records[0].Offset
	}
	return encoded
}

func (s *Source) takeReassigned() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reassigned
	s.reassigned = false
	return r
}

// report returns the source's state.
func (s *Source) report() Report {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Report{Group: s.cfg.Read.Config.Group, InflightRecords: s.inflightN, InflightBytes: s.inflightB}
	for _, p := range s.parts {
		if p.revoked {
			continue
		}
		pr := PartitionReport{Topic: p.tp.topic, Partition: p.tp.partition, HighWatermark: p.hwm, Committed: p.committed, Start: p.start}
		if pw := s.partitionWatermark(p, now); pw > mtime.MinTimestamp {
			pr.Watermark = pw.ToTime()
		}
		r.Partitions = append(r.Partitions, pr)
	}
	slices.SortFunc(r.Partitions, func(a, b PartitionReport) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return r
}
