package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// What a runner needs to execute a [Write] itself, as package localrunner
// does: it recognises the write's DoFn in the pipeline proto, produces
// the encoded records it is handed with a client of its own, and holds
// back the commits of their input until they are acknowledged, instead of
// running the DoFn and waiting for the acknowledgements at the end of
// each bundle.

// WriteTransformConfig returns the configuration of a [Write] from its
// DoFn, as a runner decodes it from the pipeline proto (the receiver of
// graphx.DecodeMultiEdge's *graph.Fn). ok is false when fn is not a
// Write's DoFn.
func WriteTransformConfig(fn any) (cfg WriteConfig, ok bool) {
	w, ok := fn.(*writeFn)
	if !ok || w == nil {
		return WriteConfig{}, false
	}
	return WriteConfig{
		Client:         w.Client,
		Topic:          w.Topic,
		Observer:       w.Observer,
		MaxRecordBytes: w.MaxRecordBytes,
		Label:          w.Label,
		Transactional:  w.Transactional,
	}, true
}

// ProducerOptions are the franz-go options of a client that produces a
// write's records without bundles: the cluster and producer properties,
// the batch cap, and no linger unless the properties set one (linger.ms,
// or its alias queue.buffering.max.ms), since no bundle's end flushes
// what lingers, as the write's DoFn does. The delivery timeout is the
// caller's to enforce (see [DefaultDeliveryTimeout] and
// [WriteConfig.DeliveryTimeout]).
func (c WriteConfig) ProducerOptions() ([]kgo.Opt, error) {
	opts, err := c.Client.Options()
	if err != nil {
		return nil, err
	}
	if c.MaxRecordBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(c.MaxRecordBytes))
	}
	_, linger := c.Client.Properties["linger.ms"]
	if _, alias := c.Client.Properties["queue.buffering.max.ms"]; !linger && !alias {
		opts = append(opts, kgo.ProducerLinger(0))
	}
	return append(opts, kgo.RecordDeliveryTimeout(0)), nil
}

// DeliveryTimeout is how long the write's records may take to be
// acknowledged: the client properties' message.timeout.ms (or
// delivery.timeout.ms), else [DefaultDeliveryTimeout].
func (c WriteConfig) DeliveryTimeout() time.Duration { return deliveryTimeout(c.Client.Properties) }

// ProduceObserver returns the observer registered under c.Observer
// ([RegisterProduceObserver]), or nil.
func (c WriteConfig) ProduceObserver() ProduceObserver { return lookupObserver(c.Observer) }

// ProduceRecord is the record the write produces for the element it is
// given encoded at the front of b, as Beam's coder of Record writes it
// inside a windowed value (length-prefixed: see [AppendRecordElement]),
// and the bytes the element took. Its topic is the record's, else
// c.Topic; with neither, err is a *PartitionError matching [ErrNoTopic].
// The record's byte slices alias b.
func (c WriteConfig) ProduceRecord(b []byte) (r *kgo.Record, n int, err error) {
	size, k := binary.Uvarint(b)
	if k <= 0 || size > uint64(len(b)-k) {
		return nil, 0, errShortRecord
	}
	n = k + int(size)
	rec, err := DecodeRecord(b[k:n:n])
	if err != nil {
		return nil, 0, err
	}
	topic := rec.Topic
	if topic == "" {
		topic = c.Topic
	}
	if topic == "" {
		return nil, 0, &PartitionError{Op: "produce", Partition: -1, Offset: -1, Err: ErrNoTopic}
	}
	return rec.toKgo(topic), n, nil
}

// ProduceError is the error a write reports for record r that failed with
// err: a *PartitionError naming r's topic and partition, under the
// write's Label.
func (c WriteConfig) ProduceError(r *kgo.Record, err error) error {
	if c.Label == "" {
		return produceError(r, err)
	}
	return fmt.Errorf("%s: %w", c.Label, produceError(r, err))
}

// produceError is the error of record r that failed with err.
func produceError(r *kgo.Record, err error) *PartitionError {
	p := r.Partition // chosen by the partitioner, unless the topic is unknown
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		p = -1
	}
	return &PartitionError{Op: "produce", Topic: r.Topic, Partition: p, Offset: -1, Err: err}
}

// AppendElement appends r as Beam's coder of Record writes it inside a
// windowed value: the record coder's bytes, length-prefixed. It is what a
// DoFn's encoded fast path emits for a Record output.
func AppendElement(b []byte, r *Record) ([]byte, error) {
	var tsBuf [32]byte
	ts, err := r.Timestamp.AppendBinary(tsBuf[:0])
	if err != nil {
		return nil, fmt.Errorf("kafka: record coder: timestamp: %w", err)
	}
	// The length first, then the record: no copy of it to make room.
	b = binary.AppendUvarint(b, uint64(recordSize(r, len(ts))))
	return appendRecordTS(b, r, ts), nil
}
