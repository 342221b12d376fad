package beamtranslate

import (
	"testing"
	"time"

	"github.com/streams-dev/streams/config"
)

// A blob sink's entry in Sentry's gcs_sink shape (a bare bucket name),
// with this platform's object name and batch bounds, decodes into the
// step's values.
func TestBlobSinkKeys(t *testing.T) {
	c, err := config.Parse([]byte(`pipeline:
  segments:
    - steps_config:
        mysink:
          bucket: arroyo-artifacts
          object_name: "events/{date}/{partition}-{offset}.json"
          batch_size: 1000
          batch_bytes: 8388608
          batch_time_ms: 60000
          parallelism: 2
`), nil, config.WithComponents(Blob.Spec))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(0, []config.StepInfo{{Name: "mysink", Kind: "blob_sink"}}); err != nil {
		t.Fatal(err)
	}
	sc := c.Pipeline.Segments[0].Step("mysink", "blob_sink")
	v := sc.ValuesOf(Blob.Spec)
	if v.Str("bucket") != "arroyo-artifacts" || v.Str("object_name") != "events/{date}/{partition}-{offset}.json" ||
		v.Int("batch_size") != 1000 || v.Int("batch_bytes") != 8<<20 || v.Duration("batch_time_ms") != time.Minute || sc.Parallelism != 2 {
		t.Errorf("values %+v", v)
	}
	for _, key := range []string{"bucket", "object_name", "batch_bytes"} {
		if !sc.IsSet(key) {
			t.Errorf("%s not set", key)
		}
	}
}

// Bad values are refused, and the blob keys belong to blob sinks only.
func TestBlobSinkKeysRefused(t *testing.T) {
	steps := []config.StepInfo{{Name: "blob", Kind: "blob_sink"}, {Name: "kafka", Kind: config.Sink}}
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
			`5:17: pipeline.segments[0].steps_config.kafka.bucket: sink step "kafka" does not take this key; sink steps accept: bootstrap_servers, codec, override_params, parallelism, starts_segment, topic`,
		}},
	} {
		equalProblems(t, configProblems(t, tc.yaml, steps, Kafka, DevNull, Blob), tc.want)
	}
}

// The object being buffered keeps its first message's key for {key};
// a meta written before keys were kept still decodes, without one.
func TestBlobMetaKeepsKey(t *testing.T) {
	m := blobMeta{count: 2, bytes: 30, first: 1_700_000_000_000, partition: 1, offset: 42, seq: 3, key: []byte("web")}
	got, err := decodeBlobMeta(m.encode())
	if err != nil || string(got.key) != "web" || got.seq != 3 || got.offset != 42 {
		t.Errorf("decode(encode(%+v)) = %+v, %v", m, got, err)
	}
	m.key = nil
	if got, err := decodeBlobMeta(m.encode()); err != nil || got.key != nil || got.count != 2 {
		t.Errorf("without a key: %+v, %v", got, err)
	}
}
