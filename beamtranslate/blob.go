package beamtranslate

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/timers"
	cloudblob "gocloud.dev/blob"

	"github.com/streams-dev/streams/component"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/wire"
	"github.com/streams-dev/streams/io/blob"
)

// Blob is the blob sink (dsl.BlobSink, Sentry Streams' GCSSink): it
// writes payloads to objects in GCS, S3 or local files, through
// package io/blob.
var Blob = Sink{
	Spec: component.Spec{
		Kind: "blob_sink", Label: "blob",
		Doc: `A blob sink (dsl.BlobSink, Sentry Streams' GCSSink) writes payloads
to objects in GCS, S3 or local files. It takes Sentry's gcs_sink key
bucket, an object name template and the bounds of its objects, which
replace those given in the pipeline code (a key left out keeps the
code's). An object is written whole, with retries, before the offsets
of its messages are committed; on every runner. Sentry's parallelism:
{threads: N} form is not taken; give an integer parallelism.`,
		Keys: []component.Key{
			{Name: "bucket", Type: component.String, Example: "arroyo-artifacts", Check: component.NotBlank,
				Doc: "a GCS bucket name, or a URL: gs://b,\n" +
					"s3://b?region=eu-west-1 (S3-compatible:\n" +
					"&endpoint=...&use_path_style=true),\n" +
					"file:///dir (?create_dir=true)"},
			{Name: "object_name", Type: component.String, Example: `"{step}/{date}/{partition}-{offset}-{seq}.json"`, Check: component.NotEmpty,
				Doc: "fields {step} {date} {hour} {minute} {time}\n" +
					"{unix_ms} (first message's event time, UTC;\n" +
					"after a Reduce, its window's last instant),\n" +
					"{key} (its key, path-escaped),\n" +
					"{partition} {offset} (its source position),\n" +
					"{seq} (objects before it from the partition),\n" +
					"{random} (needed after a Batch or Reduce,\n" +
					"whose messages have no source position)"},
			{Name: "batch_size", Type: component.Int, Example: "1000", Doc: "integer >= 1: messages per object", Check: component.AtLeast(1)},
			{Name: "batch_bytes", Type: component.Int, Example: "8388608", Doc: "integer >= 1: or this many payload bytes", Check: component.AtLeast(1)},
			{Name: "batch_time_ms", Type: component.Millis, Example: "60000", Doc: "number > 0: or the first message's wait", Check: component.Positive},
		},
	},
	Kind:           dsl.SinkBlob,
	PartitionKeyed: true, // batches per source partition
	Stateful:       true,
	Check: func(n *dsl.Node, v component.Values) error {
		_, err := BlobBindingOf(n, v)
		return err
	},
	Translate: blobSink,
}

// BlobBinding is where and how a blob sink writes: the deployment
// config's bucket, object_name, batch_size, batch_bytes and
// batch_time_ms over the step's BlobSink (a key left out keeps the
// code's).
type BlobBinding struct {
	Bucket     string
	ObjectName string
	// MaxMessages, MaxBytes and MaxWait bound an object; 0 is no bound,
	// and one must be set.
	MaxMessages, MaxBytes int
	MaxWait               time.Duration
}

// BlobBindingOf returns the binding of blob sink n given its deployment
// config's values v. A bucket that is neither a name nor a URL of a
// linked driver, or a template with an unknown field, is an error.
func BlobBindingOf(n *dsl.Node, v component.Values) (BlobBinding, error) {
	b := n.Blob()
	bb := BlobBinding{Bucket: b.Bucket(), ObjectName: b.ObjectName(),
		MaxMessages: b.MaxMessages(), MaxBytes: b.MaxBytes(), MaxWait: b.MaxWait()}
	if v.IsSet("bucket") {
		bb.Bucket = v.Str("bucket")
	}
	if v.IsSet("object_name") {
		bb.ObjectName = v.Str("object_name")
	}
	if v.IsSet("batch_size") {
		bb.MaxMessages = v.Int("batch_size")
	}
	if v.IsSet("batch_bytes") {
		bb.MaxBytes = v.Int("batch_bytes")
	}
	if v.IsSet("batch_time_ms") {
		bb.MaxWait = v.Duration("batch_time_ms")
	}
	if bb.ObjectName == "" {
		bb.ObjectName = blob.DefaultTemplate
	}
	if _, err := blob.URL(bb.Bucket); err != nil {
		return bb, err
	}
	if _, err := blob.ParseTemplate(bb.ObjectName); err != nil {
		return bb, err
	}
	return bb, nil
}

// blobSink becomes batchKeyFn (messages keyed by source partition) and
// blobFn, which buffers each partition's messages in state and writes
// them as one object when a bound is reached.
func blobSink(c SinkContext, s beam.Scope, n *dsl.Node, v component.Values, in beam.PCollection) error {
	bb, _ := BlobBindingOf(n, v) // its error is found again below, in order
	if bb.MaxMessages < 0 || bb.MaxBytes < 0 || bb.MaxWait < 0 || (bb.MaxMessages == 0 && bb.MaxBytes == 0 && bb.MaxWait == 0) {
		return fmt.Errorf("beamtranslate: blob sink %s: needs a positive message count, size or wait; got %d, %d and %v", n.Name(), bb.MaxMessages, bb.MaxBytes, bb.MaxWait)
	}
	tmpl, err := blob.ParseTemplate(bb.ObjectName)
	if err != nil {
		return fmt.Errorf("beamtranslate: blob sink %s: %w", n.Name(), err)
	}
	if maker := positionless(c.Graph, n); maker != nil && !tmpl.HasRandom() {
		return fmt.Errorf("beamtranslate: blob sink %s: its messages are made by %s step %s and have no source position, so object names from %q would collide; put {random} in the object name",
			n.Name(), maker.Kind(), maker.Name(), bb.ObjectName)
	}
	if _, err := blob.URL(bb.Bucket); err != nil {
		return fmt.Errorf("beamtranslate: blob sink %s: %w", n.Name(), err)
	}
	keyed := beam.ParDo(s, &batchKeyFn{}, in)
	beam.ParDo0(s, &blobFn{
		Pipeline: c.Pipeline, Step: n.Name(),
		Bucket: bb.Bucket, ObjectName: bb.ObjectName, Delimiter: n.Blob().Delimiter(),
		MaxMessages: int64(bb.MaxMessages), MaxBytes: int64(bb.MaxBytes), MaxWait: bb.MaxWait,
		Buffer: state.MakeBagState[[]byte]("buffer"),
		Meta:   state.MakeValueState[[]byte]("meta"),
		Flush:  timers.InProcessingTime("flush"),
	}, keyed)
	return nil
}

// positionless returns the Batch or Reduce step whose outputs reach n,
// nil when n's messages come from the source with their positions.
func positionless(g *dsl.Graph, n *dsl.Node) *dsl.Node {
	for in := n.Inputs(); len(in) > 0; {
		up := g.Node(in[0])
		if up.Kind() == dsl.KindBatch || up.Kind() == dsl.KindReduce {
			return up
		}
		in = up.Inputs()
	}
	return nil
}

// blobFn buffers the payloads of one source partition in state and
// writes them as one object, synchronously and with retries, when
// MaxMessages or MaxBytes are reached or the first has waited MaxWait.
// The write happens inside the bundle, before the bundle's state (the
// emptied buffer) is committed, and a runner commits a source's offsets
// only after the bundles that read them are committed: so an offset is
// committed only when its message is in an object, or durably in the
// buffer. A write that fails for good fails the bundle, and the
// pipeline with it. The timer is never cleared, as in batchFn.
type blobFn struct {
	Pipeline, Step string
	Bucket         string
	ObjectName     string
	Delimiter      []byte `json:",omitempty"`
	MaxMessages    int64
	MaxBytes       int64
	MaxWait        time.Duration

	Buffer state.Bag[[]byte]     // payloads
	Meta   state.Value[[]byte]   // blobMeta, encoded
	Flush  timers.ProcessingTime // set when an object starts, if MaxWait > 0

	bucket           *cloudblob.Bucket
	tmpl             blob.Template
	objects, written beam.Counter
	counted
}

// blobMeta describes the object being buffered, and counts the objects
// written before it.
type blobMeta struct {
	count, bytes int64
	first        int64 // the first message's event time, Unix ms
	partition    int64
	offset       int64 // the first message's source offset
	deadline     int64 // Unix ms of processing time; 0: never
	seq          int64 // objects written for this key
	// key is the first message's key, for {key}; kept only when the
	// template uses it.
	key []byte
}

func (m blobMeta) encode() []byte {
	var b []byte
	for _, v := range []int64{m.count, m.bytes, m.first, m.partition, m.offset, m.deadline, m.seq} {
		b = binary.AppendVarint(b, v)
	}
	if len(m.key) > 0 {
		b = wire.AppendBytes(b, m.key)
	}
	return b
}

func decodeBlobMeta(b []byte) (blobMeta, error) {
	r := wire.Reader{B: b, Short: errShort}
	m := blobMeta{count: r.Varint(), bytes: r.Varint(), first: r.Varint(), partition: r.Varint(),
		offset: r.Varint(), deadline: r.Varint(), seq: r.Varint()}
	if r.Err == nil && len(r.B) > 0 {
		m.key = r.Bytes()
	}
	return m, r.Err
}

func (fn *blobFn) Setup(ctx context.Context) error {
	var err error
	if fn.tmpl, err = blob.ParseTemplate(fn.ObjectName); err != nil {
		return fmt.Errorf("beamtranslate: blob sink %s: %w", fn.Step, err)
	}
	if fn.bucket, err = blob.Open(ctx, fn.Bucket); err != nil {
		return fmt.Errorf("beamtranslate: blob sink %s: %w", fn.Step, err)
	}
	fn.objects = beam.NewCounter("streams", "blob_objects")
	fn.written = beam.NewCounter("streams", "blob_bytes")
	fn.counted.setup(fn.Pipeline, fn.Step)
	return nil
}

func (fn *blobFn) Teardown() error {
	if fn.bucket == nil {
		return nil
	}
	return fn.bucket.Close()
}

func (fn *blobFn) meta(sp state.Provider) (blobMeta, error) {
	b, ok, err := fn.Meta.Read(sp)
	if err != nil || !ok {
		return blobMeta{}, err
	}
	return decodeBlobMeta(b)
}

func (fn *blobFn) ProcessElement(ctx context.Context, ts beam.EventTime, sp state.Provider, tp timers.Provider, _ string, e element) error {
	fn.n++
	payload, ok := e.Payload.([]byte)
	if !ok && e.Payload != nil {
		return fmt.Errorf("beamtranslate: blob sink %s: payload is %T, want []byte", fn.Step, e.Payload)
	}
	m, err := fn.meta(sp)
	if err != nil {
		return err
	}
	if err := fn.Buffer.Add(sp, payload); err != nil {
		return err
	}
	m.count++
	m.bytes += int64(len(payload) + len(fn.Delimiter))
	if m.count == 1 {
		m.first = int64(ts)
		if o := e.Origin; o != nil {
			m.partition, m.offset = int64(o.Partition), o.Offset
		}
		if fn.tmpl.Uses("key") {
			m.key = e.Key
		}
		if fn.MaxWait > 0 {
			m.deadline = time.Now().Add(fn.MaxWait).UnixMilli()
			fn.Flush.Set(tp, time.UnixMilli(m.deadline), timers.WithOutputTimestamp(ts.ToTime()))
		}
	}
	if (fn.MaxMessages > 0 && m.count >= fn.MaxMessages) || (fn.MaxBytes > 0 && m.bytes >= fn.MaxBytes) {
		return fn.write(ctx, sp, m)
	}
	return fn.Meta.Write(sp, m.encode())
}

func (fn *blobFn) OnTimer(ctx context.Context, sp state.Provider, tp timers.Provider, _ string, _ timers.Context) error {
	m, err := fn.meta(sp)
	if err != nil || m.count == 0 {
		return err
	}
	if time.Now().UnixMilli() < m.deadline {
		// The timer of an earlier object, written by count or size.
		fn.Flush.Set(tp, time.UnixMilli(m.deadline), timers.WithOutputTimestamp(mtime.Time(m.first).ToTime()))
		return nil
	}
	return fn.write(ctx, sp, m)
}

func (fn *blobFn) FinishBundle(ctx context.Context) { fn.counted.flush(ctx) }

// write writes the buffered payloads as one object, then empties the
// buffer and counts the object in the key's sequence.
func (fn *blobFn) write(ctx context.Context, sp state.Provider, m blobMeta) error {
	payloads, _, err := fn.Buffer.Read(sp)
	if err != nil {
		return err
	}
	data := make([]byte, 0, m.bytes)
	for _, p := range payloads {
		data = append(append(data, p...), fn.Delimiter...)
	}
	key := fn.tmpl.Name(blob.NameFields{Step: fn.Step, Time: mtime.Time(m.first).ToTime(),
		Partition: int32(m.partition), Offset: m.offset, Seq: m.seq, Random: blob.RandomField(), Key: m.key})
	if err := blob.Write(ctx, fn.bucket, key, data, blob.DefaultRetry); err != nil {
		return fmt.Errorf("beamtranslate: blob sink %s: %w", fn.Step, err)
	}
	fn.objects.Inc(ctx, 1)
	fn.written.Inc(ctx, int64(len(data)))
	if err := fn.Buffer.Clear(sp); err != nil {
		return err
	}
	if !fn.tmpl.Uses("seq") {
		// Nothing is left to keep: no state stays behind an object
		// written (a run reports state it stops with as results held).
		return fn.Meta.Clear(sp)
	}
	return fn.Meta.Write(sp, blobMeta{seq: m.seq + 1}.encode())
}
