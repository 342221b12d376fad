package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/shuffle"
	"github.com/streams-dev/streams/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The shuffle through Kafka
//
// A GroupByKey whose key does not follow its Kafka source's partitioning
// reads its input from an internal topic (plan.insertShuffles; package
// shuffle has the record format). Upstream, a KindShuffleWrite stage is
// kept per source partition task: it writes each element it is handed to
// the partition of its key, numbering them per partition of the topic
// (its generation and sequence numbers, saved with the task's state), and,
// every MarkInterval, writes the task's watermark to every partition when
// it moved. Its elements' Kafka batches are acknowledged once the writes
// are (the references of their batches are released then), and a
// checkpoint waits for the writes in flight, so the numbers it saves
// follow records the topic has: a task restored from it writes the
// records after it again with the same numbers, and the readers drop
// them. The stages between the source and the writer run one bundle at a
// time per task, so what a task writes comes in the order of its records.
// Downstream, the topic is read by a Kafka stage of its own (a consumer
// group named after the topic) whose tasks are its partitions, with their
// changelog; their watermark is the minimum over the writers' marks.

// ShuffleConfig configures the internal topics of a run's shuffles.
type ShuffleConfig struct {
	// Partitions of the internal topics the run creates; zero: as many
	// as the source feeding the shuffle has. An existing topic with
	// another count is an error when set.
	Partitions int32
	// ReplicationFactor of the topics the run creates (-1 or 0: the
	// broker's default).
	ReplicationFactor int16
	// MarkInterval is how often writers write their watermark; zero:
	// 100ms.
	MarkInterval time.Duration
	// PurgeInterval is how often a read of an internal topic (a shuffle's
	// or a segment's) deletes the records its group committed
	// (kafkasource's purge.go); zero: 30 s, as Kafka Streams purges its
	// repartition topics; negative: never.
	PurgeInterval time.Duration
}

// shuffles is what a run keeps for its shuffle writers: their client,
// and the partitions of the topics.
type shuffles struct {
	cl    *kgo.Client
	parts map[string]int32 // internal topic -> partitions
	total map[string]int   // source stage ID -> its partitions, all topics
}

// shuffleOut is what a writer (a KindShuffleWrite stage of a task) keeps.
//
// Its generation is what a checkpoint saved, or, for a task without saved
// state, the offset of the first record the task read, plus one (zero is
// none yet): a task that starts again without saved state starts from the
// same offset (the group's committed one, which no checkpoint passed),
// so it numbers its records as the first did, and the readers drop what
// that one wrote. A checkpoint that followed makes the task resume there,
// with its numbers.
type shuffleOut struct {
	topic string
	from  shuffle.Upstream
	gen   uint64
	seq   []uint64 // per partition of the topic: the last number written
	dirty bool     // seq moved since the last checkpoint
	// keyLen finds an element's key; bySource, on a segment's writer,
	// writes every element to its source partition's partition instead.
	keyLen   func([]byte) (int, error)
	bySource bool
	wdec     exec.WindowDecoder
	// lastWM and lastIdle are the mark written last, marked set once one
	// was.
	lastWM   mtime.Time
	lastIdle bool
	marked   bool
}

// startShuffleOut gives the writers of task t without saved state the
// generation of a task starting at offset first (see shuffleOut).
func startShuffleOut(t *task, first int64) {
	for _, c := range t.stages {
		if o := c.shufOut; o != nil && o.gen == 0 {
			o.gen, o.dirty = uint64(first)+1, true // saved by the next checkpoint
		}
	}
}

// initShuffleOut readies a writer copy of a task: no generation yet,
// numbering from zero, until loadTask restores what a checkpoint saved or
// the task's first batch comes (startShuffleOut).
func (e *engine) initShuffleOut(st *stageState) error {
	sh := st.spec.Shuffle
	o := &shuffleOut{topic: sh.Topic, bySource: sh.BySource, wdec: exec.MakeWindowDecoder(sh.Coder.Window), lastWM: mtime.MinTimestamp}
	if kv := coder.SkipW(sh.Coder); !sh.BySource {
		if !coder.IsKV(kv) {
			return fmt.Errorf("localrunner: shuffle %s: its elements are not KVs (%v)", sh.Topic, kv)
		}
		o.keyLen = group.KeyLength(kv.Components[0])
	}
	if e.shuf != nil {
		o.seq = make([]uint64, e.shuf.parts[sh.Topic])
	}
	if st.task != nil {
		o.from = shuffle.Upstream{Topic: st.task.id.topic, Partition: st.task.id.partition}
	}
	st.shufOut = o
	return nil
}

// writeShuffle writes what is queued at writer s. The batches' references
// are released when their records are acknowledged (onSent).
func (e *engine) writeShuffle(s *stageState) {
	o := s.shufOut
	n := int32(len(o.seq))
	var r bytes.Reader
	for _, q := range s.queue {
		x := e.sends.begin(q.fins, shuffleFailed)
		for elm := range q.untaken {
			key, ts, p, err := o.place(elm, &r, n)
			if err != nil {
				err = fmt.Errorf("localrunner: shuffle %s: an element that is no keyed windowed value: %w", o.topic, err)
				x.abort(err) // counted in flight: it must end
				e.fail(err)
				return
			}
			o.seq[p]++
			rec := &kgo.Record{Topic: o.topic, Partition: p, Key: key, Value: elm, Timestamp: recordTime(ts),
				Headers: []kgo.RecordHeader{{Key: shuffle.HeaderSeq, Value: shuffle.AppendSeq(nil, shuffle.Seq{From: o.from, Gen: o.gen, N: o.seq[p]})}}}
			x.produce(e.shuf.cl, rec)
		}
		o.dirty = true
		x.end()
	}
	clear(s.queue)
	s.queue, s.queued = s.queue[:0], 0
}

// place returns the key, event time and partition (of n) of element elm.
func (o *shuffleOut) place(elm []byte, r *bytes.Reader, n int32) (key []byte, ts mtime.Time, p int32, err error) {
	r.Reset(elm)
	_, ts, _, err = exec.DecodeWindowedValueHeader(o.wdec, r)
	if err != nil {
		return nil, 0, 0, err
	}
	if o.bySource {
		return nil, ts, o.from.Partition % n, nil
	}
	body := elm[len(elm)-r.Len():]
	kn, err := o.keyLen(body)
	if err != nil {
		return nil, 0, 0, err
	}
	return body[:kn], ts, shuffle.Partition(body[:kn], n), nil
}

// recordTime is the Kafka timestamp of an element at event time ts.
func recordTime(ts mtime.Time) time.Time {
	if ts < 0 || ts > mtime.MaxTimestamp {
		return time.UnixMilli(0)
	}
	return ts.ToTime()
}

// shuffleFailed is the run's error when a record could not be written
// to a shuffle topic.
func shuffleFailed(_ *kgo.Record, err error) error {
	return fmt.Errorf("localrunner: writing to a shuffle topic: %w", err)
}

// writeMarks writes each writer's watermark (its output watermark) and
// idleness to every partition of its topic when they changed.
func (e *engine) writeMarks() {
	if e.shuf == nil {
		return
	}
	for _, s := range e.stages {
		o := s.shufOut
		if o == nil || s.task == nil || s.task.gone {
			continue
		}
		// A task of an internal topic's partition is never idle to its
		// readers: its watermark moves with its writers' marks, data or
		// not, and its own partition may be caught up for a moment while
		// records below the watermarks other partitions carry are still
		// on their way to it. Leaving it out would make them late.
		wm, idle := s.out, s.task.idle() && !s.task.busy() && !s.task.src.spec.Kafka.Shuffle
		if o.marked && wm == o.lastWM && idle == o.lastIdle {
			continue
		}
		o.marked, o.lastWM, o.lastIdle = true, wm, idle
		m := shuffle.AppendMark(nil, shuffle.Mark{From: o.from, Total: e.shuf.total[s.spec.Shuffle.Source], Watermark: wm, Idle: idle})
		for p := range int32(len(o.seq)) {
			rec := &kgo.Record{Topic: o.topic, Partition: p, Headers: []kgo.RecordHeader{{Key: shuffle.HeaderMark, Value: m}}}
			e.shuf.cl.Produce(context.Background(), rec, e.markAcked)
		}
	}
}

// markAcked logs a mark that could not be written: the next one that
// is makes up for it.
func (e *engine) markAcked(r *kgo.Record, err error) {
	if err != nil && err != kgo.ErrClientClosed {
		e.log.Warn("localrunner: writing a shuffle watermark failed", "topic", r.Topic, "partition", r.Partition, "error", err)
	}
}

func shuffleOutKey(id sourcePartition, topic string) state.Key {
	return taskKey(id).Sub(state.NSShuffle).Text("out").Text(topic)
}

// checkpointShuffleOut saves a writer's generation and numbers.
func checkpointShuffleOut(b *state.Batch, s *stageState) {
	o := s.shufOut
	if o == nil || s.task == nil || !o.dirty {
		return
	}
	v := binary.AppendUvarint(nil, o.gen)
	for _, n := range o.seq {
		v = binary.AppendUvarint(v, n)
	}
	b.Set(shuffleOutKey(s.task.id, o.topic), v)
	o.dirty = false
}

// restoreShuffleOut gives a writer what the last checkpoint saved of it.
func restoreShuffleOut(st *state.Store, s *stageState) error {
	o := s.shufOut
	if o == nil || s.task == nil {
		return nil
	}
	v, ok, err := st.Get(shuffleOutKey(s.task.id, o.topic))
	if err != nil || !ok {
		return err
	}
	gen, n := binary.Uvarint(v)
	if n <= 0 {
		return fmt.Errorf("localrunner: the saved numbers of shuffle %s: bad encoding", o.topic)
	}
	v = v[n:]
	seq := make([]uint64, 0, len(o.seq))
	for len(v) > 0 {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			return fmt.Errorf("localrunner: the saved numbers of shuffle %s: bad encoding", o.topic)
		}
		seq, v = append(seq, x), v[n:]
	}
	if len(seq) != len(o.seq) {
		return fmt.Errorf("localrunner: shuffle %s: saved for %d partitions, the topic has %d", o.topic, len(seq), len(o.seq))
	}
	o.gen, o.seq = gen, seq
	return nil
}
