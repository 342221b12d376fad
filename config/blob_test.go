package config

import (
	"testing"
	"time"
)

// A blob sink's entry in Sentry's gcs_sink shape (a bare bucket name),
// with this platform's object name and batch bounds, decodes into the
// step's config.
func TestBlobSinkKeys(t *testing.T) {
	c, err := Parse([]byte(`pipeline:
  segments:
    - steps_config:
        mysink:
          bucket: arroyo-artifacts
          object_name: "events/{date}/{partition}-{offset}.json"
          batch_size: 1000
          batch_bytes: 8388608
          batch_time_ms: 60000
          parallelism: 2
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(0, []StepInfo{{"mysink", BlobSink}}); err != nil {
		t.Fatal(err)
	}
	sc := c.Pipeline.Segments[0].Step("mysink", BlobSink)
	if sc.Bucket != "arroyo-artifacts" || sc.ObjectName != "events/{date}/{partition}-{offset}.json" ||
		sc.BatchSize != 1000 || sc.BatchBytes != 8<<20 || sc.BatchTime != time.Minute || sc.Parallelism != 2 {
		t.Errorf("step config %+v", sc)
	}
	for _, key := range []string{"bucket", "object_name", "batch_bytes"} {
		if !sc.IsSet(key) {
			t.Errorf("%s not set", key)
		}
	}
	if built := (StepConfig{Bucket: "b", ObjectName: "x", BatchBytes: 1}); !built.IsSet("bucket") || !built.IsSet("object_name") || !built.IsSet("batch_bytes") {
		t.Error("IsSet misses a blob key of a config built in Go")
	}
}

// Bad values are refused, and the blob keys belong to blob sinks only.
func TestBlobSinkKeysRefused(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want []string
	}{
		{"blob: {bucket: \"\", object_name: \"\", batch_bytes: 0}", []string{
			`4:24: pipeline.segments[0].steps_config.blob.bucket: must not be empty`,
			`4:41: pipeline.segments[0].steps_config.blob.object_name: must not be empty`,
			`4:58: pipeline.segments[0].steps_config.blob.batch_bytes: must be at least 1; got 0`,
		}},
		{"blob: {topic: x}\n        kafka: {bucket: b}", []string{
			`4:16: pipeline.segments[0].steps_config.blob.topic: blob_sink step "blob" does not take this key; blob_sink steps accept: batch_bytes, batch_size, batch_time_ms, bucket, object_name, parallelism, starts_segment`,
			`5:17: pipeline.segments[0].steps_config.kafka.bucket: sink step "kafka" does not take this key; sink steps accept: bootstrap_servers, override_params, parallelism, starts_segment, topic`,
		}},
	} {
		c, err := Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        "+tc.yaml+"\n"), nil)
		if err == nil { // Parse finds bad values; Validate, keys of other kinds
			err = c.Validate(0, []StepInfo{{"blob", BlobSink}, {"kafka", Sink}})
		}
		equalLines(t, problems(t, err), tc.want)
	}
}
