package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
)

type decEvent struct {
	Type string `json:"type"`
}

func decodingPipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[decEvent]()).
		Apply("ser", dsl.Serializer[decEvent]()).
		Apply("batch", dsl.Batch[[]byte](2, time.Second)).
		Apply("bparse", dsl.BatchParser[decEvent]()).
		Sink("out", dsl.DevNullSink[[]decEvent]())
}

// TestResolveDecoders: the source's codec and the schema of its stream
// in schema_dir (<stream>.json, the stream the code names) bind every
// Parser and BatchParser.
func TestResolveDecoders(t *testing.T) {
	dir := t.TempDir()
	schema := `{"required":["type"]}`
	if err := os.WriteFile(filepath.Join(dir, "events.json"), []byte(schema), 0o644); err != nil {
		t.Fatal(err)
	}
	d := mustResolve(t, decodingPipeline().MustBuild(), `pipeline:
  segments:
    - steps_config:
        in: {topic: renamed, codec: msgpack, schema_dir: `+dir+`}
`)
	want := beamtranslate.DecoderBinding{Codec: "msgpack", Schema: schema}
	if len(d.bindings.Decoders) != 2 || d.bindings.Decoders["parse"] != want || d.bindings.Decoders["bparse"] != want {
		t.Errorf("decoders %+v", d.bindings.Decoders)
	}
	if d := mustResolve(t, decodingPipeline().MustBuild(), "pipeline: {segments: [{}]}\n"); d.bindings.Decoders != nil {
		t.Errorf("decoders without config: %+v", d.bindings.Decoders)
	}
}

// TestResolveDecodersRefused: a missing or invalid schema, a codec the
// code contradicts, or the keys on a pipeline without a parser stop the
// start with the place of the problem.
func TestResolveDecodersRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "events.json"), []byte(`{"type": 5}`), 0o644); err != nil {
		t.Fatal(err)
	}
	noParser := dsl.StreamingSource("in", "events").Sink("out", dsl.DevNullSink[[]byte]()).MustBuild()
	msgpackParser := dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[decEvent](dsl.WithCodec(dsl.Msgpack))).
		Sink("out", dsl.DevNullSink[decEvent]()).MustBuild()
	for _, tc := range []struct {
		g    *dsl.Graph
		src  string
		want string
	}{
		{decodingPipeline().MustBuild(), "{schema_dir: " + dir + "}", "schema " + filepath.Join(dir, "events.json")},
		{decodingPipeline().MustBuild(), "{schema_dir: " + dir + "}", "step parse: json schema"},
		{decodingPipeline().MustBuild(), "{schema_dir: " + t.TempDir() + "}", `schema_dir: the JSON Schema of stream "events": open`},
		{msgpackParser, "{codec: json}", "step parse: its code sets codec msgpack, the config json"},
		{noParser, "{codec: json}", "the pipeline has none"},
	} {
		cfg, err := config.Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        in: "+tc.src+"\n"), nil)
		if err != nil {
			t.Fatal(err)
		}
		seg, err := cfg.Segment(0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := resolve(tc.g, seg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.src, err, tc.want)
		}
	}
}
