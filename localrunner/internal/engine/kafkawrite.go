package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Native Kafka writes
//
// A kafka.Write that is not transactional runs as a KindKafkaWrite stage:
// the runner produces the records queued there with a client of its own,
// as the write's DoFn would (its client properties, batch cap, topic,
// partitioner and observer), a send per queued batch (sends.go). Where
// the DoFn waits for its bundle's acknowledgements before the bundle
// ends, the stage feeding the write goes on at once, and the batch's
// input is committed once the acknowledgements come: the rule that a
// record's offset is committed only after what it produced is
// acknowledged holds, without a bundle boundary in the way of latency. A
// record that fails, or is not acknowledged within the write's delivery
// timeout, fails the run, as a failed bundle of the DoFn does, so what
// it came from is not committed and is read again after the restart.

// kafkaWriter is the producer of a KindKafkaWrite stage.
type kafkaWriter struct {
	cfg     kafka.WriteConfig
	cl      *kgo.Client
	timeout time.Duration
	obs     kafka.ProduceObserver
	wdec    exec.WindowDecoder
	r       bytes.Reader
}

// openWriters opens the client of every native Kafka write.
func (e *engine) openWriters() error {
	for _, s := range e.cfg.Plan.Stages {
		if s.Kind != plan.KindKafkaWrite {
			continue
		}
		w, err := newKafkaWriter(s.KafkaWrite)
		if err != nil {
			return fmt.Errorf("localrunner: %s: kafka: write: client: %w", writeName(s), err)
		}
		e.writers[s.ID] = w
	}
	return nil
}

// newKafkaWriter opens the producer of write kw.
func newKafkaWriter(kw *plan.KafkaWrite) (*kafkaWriter, error) {
	cfg := kw.Config
	opts, err := cfg.ProducerOptions()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return &kafkaWriter{cfg: cfg, cl: cl, timeout: cfg.DeliveryTimeout(), obs: cfg.ProduceObserver(),
		wdec: exec.MakeWindowDecoder(kw.Coder.Window)}, nil
}

// writeName names a write in errors: its label, or its transform.
func writeName(s *plan.Stage) string {
	if l := s.KafkaWrite.Config.Label; l != "" {
		return l
	}
	return s.Names[0]
}

// closeWriters closes the writes' clients: what they did not send fails.
func (e *engine) closeWriters() {
	for _, w := range e.writers {
		w.cl.Close()
	}
}

// writeKafka produces what is queued at native write s, a send per
// batch; the batches' references are released when their records are
// acknowledged (onSent).
func (e *engine) writeKafka(ctx context.Context, s *stageState) {
	w := e.writers[s.spec.ID]
	for _, q := range s.queue {
		x := e.sends.begin(q.fins, w.failed)
		x.ctx, x.cancel = context.WithTimeout(ctx, w.timeout)
		if obs := w.obs; obs != nil {
			x.start = time.Now()
			x.obs = func(r *kgo.Record, d time.Duration, err error) { obs.Produced(r.Topic, d, err) }
		}
		for elm := range q.untaken {
			r, err := w.record(elm)
			if err != nil {
				x.abort(err)
				e.fail(err)
				return
			}
			x.produce(w.cl, r)
		}
		x.end()
	}
	clear(s.queue)
	s.queue, s.queued = s.queue[:0], 0
}

// record is the record to produce for windowed value elm.
func (w *kafkaWriter) record(elm []byte) (*kgo.Record, error) {
	w.r.Reset(elm)
	_, _, _, err := exec.DecodeWindowedValueHeader(w.wdec, &w.r)
	if err == nil {
		var r *kgo.Record
		if r, _, err = w.cfg.ProduceRecord(elm[len(elm)-w.r.Len():]); err == nil {
			return r, nil
		}
	}
	var pe *kafka.PartitionError
	if errors.As(err, &pe) {
		return nil, w.cfg.ProduceError(&kgo.Record{Partition: -1}, pe.Err)
	}
	return nil, fmt.Errorf("localrunner: %s: a record to write that cannot be decoded: %w", w.cfg.Label, err)
}

// failed is the run's error when record r failed with err.
func (w *kafkaWriter) failed(r *kgo.Record, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("records not acknowledged within %v: %w", w.timeout, err)
	}
	return w.cfg.ProduceError(r, err)
}
