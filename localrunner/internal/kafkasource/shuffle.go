package kafkasource

import (
	"bytes"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/streams-dev/streams/localrunner/internal/shuffle"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A shuffle read (plan.KafkaRead.Shuffle) reads a GroupByKey's internal
// topic (package shuffle): its data records' values are already encoded
// elements, handed on as they are but for those an upstream writer wrote
// before (shuffle.Marks.Take); its control records are skipped and move
// the partition's watermark, which is the minimum over the upstream
// tasks' marks and nothing else (no skew, idleness or end of input: the
// writers say all of that). Each batch carries the partition's marks
// after it (Batch.Marks), which the engine saves with the position;
// Config.ResumeMarks gives them back when the partition is assigned again.

// shuffleBatches is batches for a shuffle read: it cuts the records of one
// fetched partition into batches, without the control records and the
// records read before. A batch may hold no element (only control records
// or records read before): it still moves the partition's position.
func (s *Source) shuffleBatches(p *partition, fp kgo.FetchTopicPartition) []*Batch {
	var out []*Batch
	var buf bytes.Buffer
	var r bytes.Reader
	var cur *Batch
	cut := func() {
		cur.Data = slices.Clone(buf.Bytes())
		cur.Marks = p.marks.Encode()
		out = append(out, cur)
		cur = nil
		buf.Reset()
	}
	for i, rec := range fp.Records {
		if cur == nil {
			cur = &Batch{src: s, MinTS: mtime.MaxTimestamp, First: rec.Offset}
		}
		cur.last = rec.Offset
		if s.shuffleTake(p, rec) {
			r.Reset(rec.Value)
			_, ts, _, err := exec.DecodeWindowedValueHeader(s.wdec, &r)
			if err != nil {
				s.log.Error("localrunner: a shuffle record that is no element; skipped", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "error", err)
			} else {
				buf.Write(rec.Value)
				cur.Ends = append(cur.Ends, buf.Len())
				cur.MinTS = min(cur.MinTS, ts)
				cur.records++
			}
		}
		if cur.records >= s.cfg.MaxBatch || i == len(fp.Records)-1 {
			cut()
		}
	}
	return out
}

// shuffleTake takes a record of a shuffle read: a control record updates
// the partition's marks and is not handed on; a data record is, unless
// its writer wrote it before.
func (s *Source) shuffleTake(p *partition, rec *kgo.Record) bool {
	for _, h := range rec.Headers {
		switch h.Key {
		case shuffle.HeaderMark:
			m, err := shuffle.DecodeMark(h.Value)
			if err != nil {
				s.log.Error("localrunner: a bad shuffle mark; skipped", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "error", err)
				return false
			}
			p.marks.Mark(m)
			return false
		case shuffle.HeaderSeq:
			seq, err := shuffle.DecodeSeq(h.Value)
			if err != nil {
				s.log.Error("localrunner: a bad shuffle sequence number; taken", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "error", err)
				return true
			}
			if !p.marks.Take(seq) {
				s.dupes++
				return false
			}
			return true
		}
	}
	return true
}

// resumeMarks gives a partition resumed from the saved state the read
// state saved with it: a shuffle read's marks, a Kafka read's time
// (resumetime.go). Called with mu held.
func (s *Source) resumeMarks(p *partition) {
	if s.cfg.ResumeMarks == nil {
		return
	}
	b := s.cfg.ResumeMarks(p.tp.topic, p.tp.partition)
	if len(b) == 0 {
		return
	}
	if !s.cfg.Read.Shuffle {
		s.resumeTime(p, b)
		return
	}
	m, err := shuffle.DecodeMarks(b)
	if err != nil {
		s.log.Error("localrunner: the saved shuffle marks are unreadable; starting without them", "topic", p.tp.topic, "partition", p.tp.partition, "error", err)
		return
	}
	p.marks = m
}
