package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/childtest"
)

// codecsChildPrefix starts a child spec that runs codecsPipeline's dev
// loop; the adapter and the schema directory follow it.
const codecsChildPrefix = "dev-codecs:"

// codecsPipeline batches raw records by four and parses each batch at
// once; the source's config says the codec and where the schema is.
func codecsPipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "events").
		Apply("batch", dsl.Batch[[]byte](4, time.Hour)).
		Apply("parse", dsl.BatchParser[decEvent]()).
		Apply("types", dsl.Map(func(es []decEvent) ([]byte, error) {
			types := make([]string, len(es))
			for i, e := range es {
				types[i] = e.Type
			}
			return []byte(strings.Join(types, ",")), nil
		})).
		Sink("out", dsl.StreamSink("types"))
}

// runCodecsChild runs codecsPipeline on the development broker with
// codec msgpack and the schema in dir, on four records, two of them
// invalid, printing what arrives, until the dev loop says it is done.
func runCodecsChild(spec string) int {
	adapter, dir, _ := strings.Cut(spec, ":")
	mp := func(v any) []byte { b, _ := msgpack.Marshal(v); return b }
	input := [][]byte{mp(map[string]any{"type": "a"}), []byte("not msgpack"), mp(map[string]any{"kind": "b"}), mp(map[string]any{"type": "c"})}
	return runDevChild("codecs", adapter, `pipeline:
  segments:
    - steps_config:
        in: {auto_offset_reset: earliest, codec: msgpack, schema_dir: "`+dir+`", dlq: {}}
`, codecsPipeline().MustBuild(), input)
}

// TestCodecsOnTheDevBroker: through the development broker, a
// BatchParser decodes msgpack as the source's codec says, validates
// against the stream's schema from schema_dir, sends the valid items on
// as one batch and each invalid one to the dead-letter topic, on the
// bundled runner and on prism.
func TestCodecsOnTheDevBroker(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "events.json"), []byte(`{"required":["type"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, adapter := range []string{AdapterLocal, AdapterBeam} {
		t.Run(adapter, func(t *testing.T) {
			t.Parallel()
			child := childtest.Start(t, codecsChildPrefix+adapter+":"+dir)
			if !child.Wait(2 * time.Minute) {
				t.Fatal("the dev loop did not stop by itself")
			}
			if code := child.ExitCode(); code != 0 {
				t.Fatalf("exit code %d:\n%s", code, child.Stderr())
			}
			out := child.Stdout()
			for _, want := range []string{
				"types: a,c",
				"events-dlq: not msgpack [streams.dlq.step=parse] [streams.dlq.error=step parse: invalid message: item 1: invalid msgpack",
				"[streams.dlq.error=step parse: invalid message: item 2: schema validation: at '': missing property 'type']",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s\n%s", want, out, child.Stderr())
				}
			}
		})
	}
}
