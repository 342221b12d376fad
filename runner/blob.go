package runner

import (
	"fmt"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/blob"
)

// blobBindings returns where and how each blob sink writes, by step
// name: its BlobSink, with the deployment config's bucket, object_name,
// batch_size, batch_bytes and batch_time_ms in place of the code's (a
// key left out keeps the code's). A bucket that is neither a name nor a
// URL of a linked driver, or a template with an unknown field, is an
// error naming the step.
func blobBindings(g *dsl.Graph, seg *config.Segment) (map[string]beamtranslate.BlobBinding, error) {
	var out map[string]beamtranslate.BlobBinding
	for _, n := range g.Sinks() {
		if n.SinkKind() != dsl.SinkBlob {
			continue
		}
		b, sc := n.Blob(), seg.Step(n.Name(), config.BlobSink)
		bb := beamtranslate.BlobBinding{Bucket: b.Bucket(), ObjectName: b.ObjectName(),
			MaxMessages: b.MaxMessages(), MaxBytes: b.MaxBytes(), MaxWait: b.MaxWait()}
		if sc.IsSet("bucket") {
			bb.Bucket = sc.Bucket
		}
		if sc.IsSet("object_name") {
			bb.ObjectName = sc.ObjectName
		}
		if sc.IsSet("batch_size") {
			bb.MaxMessages = sc.BatchSize
		}
		if sc.IsSet("batch_bytes") {
			bb.MaxBytes = sc.BatchBytes
		}
		if sc.IsSet("batch_time_ms") {
			bb.MaxWait = sc.BatchTime
		}
		if bb.ObjectName == "" {
			bb.ObjectName = blob.DefaultTemplate
		}
		if _, err := blob.URL(bb.Bucket); err != nil {
			return nil, fmt.Errorf("runner: blob sink step %s: %w", n.Name(), err)
		}
		if _, err := blob.ParseTemplate(bb.ObjectName); err != nil {
			return nil, fmt.Errorf("runner: blob sink step %s: %w", n.Name(), err)
		}
		if out == nil {
			out = map[string]beamtranslate.BlobBinding{}
		}
		out[n.Name()] = bb
	}
	return out, nil
}
