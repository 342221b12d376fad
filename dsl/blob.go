package dsl

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// BlobOption configures BlobSink.
type BlobOption interface{ applyBlob(*Blob) }

type blobOptionFunc func(*Blob)

func (f blobOptionFunc) applyBlob(b *Blob) { f(b) }

// BlobBatch makes BlobSink write several messages to an object: an
// object is written when it holds messages messages or bytes bytes of
// payload, or when its first message has waited wait (processing time),
// whichever comes first. Zero disables a bound; at least one must be
// set. The deployment config's batch_size, batch_bytes and batch_time_ms
// replace them.
func BlobBatch(messages, bytes int, wait time.Duration) BlobOption {
	return blobOptionFunc(func(b *Blob) { b.maxMessages, b.maxBytes, b.maxWait = messages, bytes, wait })
}

// BlobObjectName names the objects from a template, text with fields in
// braces: {step}, {date}, {hour}, {minute}, {time}, {unix_ms} (the
// event time of the object's first message, UTC: for a Reduce's result,
// its window's last instant), {key} (that message's key, path-escaped:
// a Reduce's result has its window's key), {partition} and {offset}
// (its source position), {seq} (the number of objects written before
// for the same source partition) and {random} (16 random hex digits). The
// default is "{step}/{date}/{hour}/{partition}-{offset}-{seq}", which
// gives a batch written again after a crash its old name. Messages made
// by a Batch or a Reduce have no source position: a sink fed by one
// needs {random} in its template (the translation refuses it without).
// The deployment config's object_name replaces the template; the runner
// checks it at start.
func BlobObjectName(template string) BlobOption {
	return blobOptionFunc(func(b *Blob) { b.objectName = template })
}

// BlobDelimiter is written after each message's payload in an object
// (for example "\n" for JSON lines). The default is none: an object is
// its payloads one after the other, and a one-message object is exactly
// its payload.
func BlobDelimiter(d []byte) BlobOption {
	return blobOptionFunc(func(b *Blob) { b.delimiter = append([]byte(nil), d...) })
}

// BlobSink writes messages to objects in an object store bucket, as
// Sentry Streams' GCSSink does: by default each message is one object.
// bucket is a GCS bucket name ("arroyo-artifacts", as Sentry's gcs_sink
// takes it) or a URL: gs://bucket, s3://bucket?region=..., or
// file:///dir for local files; the deployment config's bucket replaces
// it.
//
//	events.Apply("ser", dsl.Serializer[Event]()).
//		Sink("archive", dsl.BlobSink("my-bucket",
//			dsl.BlobBatch(1000, 8<<20, time.Minute), dsl.BlobDelimiter([]byte("\n"))))
//
// An object is written whole (stores show it only once complete) before
// the offsets of its messages are committed; a write that fails is
// retried with backoff, and a write that keeps failing stops the
// pipeline rather than skip the messages. Until an object is written, its
// messages wait in the runner's state, so a restart loses none.
func BlobSink(bucket string, opts ...BlobOption) Sink[[]byte] {
	b := &Blob{bucket: bucket, maxMessages: 1}
	for _, o := range opts {
		if o != nil {
			o.applyBlob(b)
		}
	}
	return Sink[[]byte]{kind: SinkBlob, blob: b}
}

// Blob is a BlobSink as runners see it.
type Blob struct {
	bucket     string
	objectName string
	delimiter  []byte

	maxMessages, maxBytes int
	maxWait               time.Duration
}

// Bucket is the bucket name or URL given in code.
func (b *Blob) Bucket() string { return b.bucket }

// ObjectName is the object name template given in code ("" for the
// default).
func (b *Blob) ObjectName() string { return b.objectName }

// Delimiter is written after each payload in an object.
func (b *Blob) Delimiter() []byte { return b.delimiter }

// MaxMessages bounds an object by messages (0: no bound).
func (b *Blob) MaxMessages() int { return b.maxMessages }

// MaxBytes bounds an object by payload bytes (0: no bound).
func (b *Blob) MaxBytes() int { return b.maxBytes }

// MaxWait bounds how long an object's first message waits (0: no bound).
func (b *Blob) MaxWait() time.Duration { return b.maxWait }

// check returns the problems of b, nil when there are none.
func (b *Blob) check() error {
	var ps []string
	if b.bucket == "" {
		ps = append(ps, "no bucket")
	}
	if b.maxMessages < 0 || b.maxBytes < 0 || b.maxWait < 0 {
		ps = append(ps, fmt.Sprintf("batch bounds must not be negative; got %d messages, %d bytes, %v", b.maxMessages, b.maxBytes, b.maxWait))
	}
	if b.maxMessages == 0 && b.maxBytes == 0 && b.maxWait == 0 {
		ps = append(ps, "a batch needs a message count, a size or a wait")
	}
	if len(ps) == 0 {
		return nil
	}
	return errors.New(strings.Join(ps, "; "))
}
