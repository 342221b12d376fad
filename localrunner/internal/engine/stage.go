package engine

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/kafkasource"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/timer"
	"github.com/streams-dev/streams/localrunner/internal/userstate"
	"github.com/streams-dev/streams/localrunner/internal/worker"
)

type batch struct {
	data []byte
	ends []int // element i ends at ends[i]
	next int   // first element not yet taken
	hold mtime.Time
	fins []*fin
	// arrival is the reading stage's input watermark when the batch was
	// queued: a GroupByKey judges lateness against it.
	arrival mtime.Time
	// lane is the key lane of a stateful stage's batch (stageState.lanes).
	lane int
	// qid is the batch's key among its stage's saved queue (0: never
	// saved), savedNext its next when it was last saved (queues.go).
	qid       int64
	savedNext int
	// vals are more elements, handed over as Go values for a combining
	// GroupByKey (group.Value), which enc encodes (values.go); a batch
	// with values is read whole.
	vals []group.Value
	enc  func(dst []byte, v any) ([]byte, error)
}

func (b *batch) remaining() int { return len(b.ends) - b.next + len(b.vals) }

// start is where the first element not yet taken begins in data.
func (b *batch) start() int {
	if b.next == 0 {
		return 0
	}
	return b.ends[b.next-1]
}

// untaken yields the elements not yet taken, in order.
func (b *batch) untaken(yield func([]byte) bool) {
	start := b.start()
	for _, end := range b.ends[b.next:] {
		if !yield(b.data[start:end]) {
			return
		}
		start = end
	}
}

// piece is the part of a batch a bundle took.
type piece struct {
	fins []*fin
}

type inflight struct {
	hold     mtime.Time
	pieces   []piece
	elements int
	timers   int // fired timers delivered
	lane     int // a stateful stage's key lane; -1 for fired timers
}

type stageState struct {
	spec *plan.Stage
	// task is the task of a stage kept per task (tasks.go), nil for a
	// stage the process shares; pool holds its idle plans (shared by the
	// copies of a stage in every task).
	task   *task
	pool   *planPool
	queue  []*batch
	queued int
	// savedQ are the ids of the batches the last checkpoint saved of the
	// queue (or that a restore found), lastQ the highest id given.
	savedQ     map[int64]bool
	lastQ      int64
	inflight   map[string]*inflight
	out        mtime.Time
	bundleSize int
	// sides is set once every side input of the stage is complete.
	sides *worker.SideInputs
	// src is the consumer of a KindKafka stage and srcWM the watermark it
	// reported last.
	src   *kafkasource.Source
	srcWM mtime.Time
	// partIdle says, for each partition a Kafka stage reads, whether it is
	// idle (from the source's partition events).
	partIdle map[sourcePartition]bool
	// genWM is the event-time watermark of a stage that gives elements
	// event times of its own (plan.EventTime), and feed the Kafka stage
	// feeding it.
	genWM mtime.Time
	feed  *stageState
	// in is the input watermark (SDK and group stages) as of the last
	// refresh.
	in mtime.Time
	// grp is the buffer of a KindGroup stage, nil while a grouping task
	// has it. grpHold, grpNext and grpPending are its state after the last
	// task: the smallest timestamp of a pane still to fire, the watermark
	// past which it has work, and the number of windows waiting to fire;
	// grpNextProc the processing time at which a trigger may fire a pane
	// (zero: none).
	grp         *group.Buffer[*fin]
	cmb         *worker.Combiner   // the CombineFn of a combining GroupByKey
	valWenc     exec.WindowEncoder // encodes the windows of queued values (values.go)
	grpHold     mtime.Time
	grpNext     mtime.Time
	grpPending  int
	grpNextProc time.Time
	// store holds the user state of a stateful stage; each bundle works in
	// a transaction committed when it succeeds.
	store userstate.Store
	// inlineStats decide whether its bundles may run on the loop.
	inlineStats inlineStats
	// lanes spread a stateful stage's elements over parallel bundles by
	// the hash of their encoded key: a lane has at most one bundle in
	// flight (busy), so a key's state is never in two bundles; queued
	// counts its queued elements. A bundle of fired timers takes every
	// lane. Stateless stages have none.
	lanes []lane
	// keyLen and wdec find the key of an encoded windowed KV (keyLen:
	// more than one lane only).
	keyLen func([]byte) (int, error)
	wdec   exec.WindowDecoder
	// late, for a stateful stage whose windows expire (not the global
	// window), drops the elements of windows already expired when they
	// arrive.
	late *lateFilter
	// lateLog rate-limits the log lines of late drops.
	lateLog lateLog
	// timers are the live timers of a stateful stage with timer families;
	// lastFired is set when its last bundle delivered timers.
	timers    *timer.Store
	lastFired bool
	// shufOut is what a shuffle writer keeps (shuffle.go).
	shufOut *shuffleOut
	// testNext is the next event of a KindTestStream stage, testWM its
	// output watermark; testDone is set once every event was played.
	testNext int
	testWM   mtime.Time
	testDone bool
}

// newStageState returns the state of stage s before anything ran: no
// watermark yet, no hold, bundles of up to bundleSize elements (one for a
// splittable stage, so that its restrictions run and checkpoint apart).
func newStageState(s *plan.Stage, bundleSize int) *stageState {
	st := &stageState{spec: s, pool: &planPool{}, inflight: map[string]*inflight{}, out: mtime.MinTimestamp, in: mtime.MinTimestamp, bundleSize: bundleSize, srcWM: mtime.MinTimestamp, genWM: mtime.MinTimestamp, grpHold: mtime.MaxTimestamp, grpNext: mtime.MaxTimestamp, testWM: mtime.MinTimestamp}
	if s.Splittable {
		st.bundleSize = 1
	}
	return st
}

// enqueue queues a batch for s, and returns how many element windows a
// stateful stage dropped as late.
func (s *stageState) enqueue(b *batch) (dropped int) {
	b.arrival = s.in
	return s.enqueueArrived(b)
}

// enqueueArrived queues a batch whose arrival is set: a batch restored
// from a checkpoint keeps the input watermark it arrived at, so a late
// element is judged as it was the first time.
func (s *stageState) enqueueArrived(b *batch) (dropped int) {
	if len(s.lanes) > 1 {
		return s.enqueueLanes(b)
	}
	if s.late != nil {
		dropped = s.late.drop(b)
	}
	if s.lanes != nil {
		s.lanes[0].queued += b.remaining()
	}
	s.queue = append(s.queue, b)
	s.queued += b.remaining()
	return dropped
}

// planPool holds a stage's idle plans.
type planPool struct{ plans []worker.Plan }

func (p *planPool) put(pl worker.Plan) { p.plans = append(p.plans, pl) }

// take returns an idle plan, or nil (the bundle then builds one).
func (p *planPool) take() worker.Plan {
	n := len(p.plans)
	if n == 0 {
		return nil
	}
	pl := p.plans[n-1]
	p.plans = p.plans[:n-1]
	return pl
}

func (s *stageState) queueHold() mtime.Time {
	h := mtime.MaxTimestamp
	for _, b := range s.queue {
		h = min(h, b.hold)
	}
	return h
}
