package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/childtest"
)

// sinkCodecChildPrefix starts a child spec that runs sinkCodecPipeline's
// dev loop; the adapter follows it.
const sinkCodecChildPrefix = "dev-sinkcodec:"

// sinkCodecPipeline parses JSON events and serializes them again for a
// Kafka sink; the Serializer's codec is the sink's config's.
func sinkCodecPipeline(opts ...dsl.SerializerOption) dsl.Pipeline {
	return dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[decEvent]()).
		Apply("ser", dsl.Serializer[decEvent](opts...)).
		Apply("same", dsl.Filter(func([]byte) bool { return true })).
		Sink("out", dsl.StreamSink("encoded"))
}

// TestResolveEncoders: a Kafka sink's codec binds the Serializer that
// feeds it, through steps with one input; without one, the Serializer
// keeps its code's codec.
func TestResolveEncoders(t *testing.T) {
	d := mustResolve(t, sinkCodecPipeline().MustBuild(), `pipeline:
  segments:
    - steps_config:
        out: {codec: msgpack}
`)
	want := map[string]beamtranslate.EncoderBinding{"ser": {Codec: "msgpack"}}
	if len(d.bindings.Encoders) != 1 || d.bindings.Encoders["ser"] != want["ser"] {
		t.Errorf("encoders %+v, want %+v", d.bindings.Encoders, want)
	}
	if d := mustResolve(t, sinkCodecPipeline().MustBuild(), "pipeline: {segments: [{}]}\n"); d.bindings.Encoders != nil {
		t.Errorf("encoders without config: %+v", d.bindings.Encoders)
	}
}

// TestSinkCodecRefused: a sink codec that contradicts the Serializer's
// code, one on a sink no Serializer feeds, two sinks that ask one
// Serializer for different codecs, and protobuf for a payload that is
// not a proto.Message stop the start with a config error naming the
// step, before any broker is needed.
func TestSinkCodecRefused(t *testing.T) {
	twoSinks := dsl.StreamingSource("in", "events").
		Apply("parse", dsl.Parser[decEvent]()).
		Apply("ser", dsl.Serializer[decEvent]()).
		Broadcast("copy",
			dsl.Branch[[]byte]("a").Sink("out", dsl.StreamSink("x")),
			dsl.Branch[[]byte]("b").Sink("out2", dsl.StreamSink("y")))
	for _, tc := range []struct {
		p    dsl.Pipeline
		cfg  string
		want string
	}{
		{sinkCodecPipeline(dsl.WithCodec(dsl.JSON)), "out: {codec: msgpack}", "sink step out: codec: step ser: its code sets codec json, the config msgpack"},
		{dsl.StreamingSource("in", "events").Sink("out", dsl.StreamSink("x")), "out: {codec: json}", "sink step out: codec applies to the Serializer that feeds the sink, and none does"},
		{twoSinks, "out: {codec: json}\n        out2: {codec: msgpack}", "sink step out2: codec msgpack, but Serializer ser also feeds sink step out, whose codec is json"},
		{sinkCodecPipeline(), "out: {codec: protobuf}", "sink step out: codec: step ser: the protobuf codec needs a proto.Message"},
	} {
		cfg, err := config.Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        "+tc.cfg+"\n"), nil, ConfigOption())
		if err != nil {
			t.Fatal(err)
		}
		err = Run(context.Background(), tc.p.MustBuild(), Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Run: %v, want a config error saying %q", tc.cfg, err, tc.want)
		}
	}
}

// runSinkCodecChild runs sinkCodecPipeline on the development broker
// with the sink's codec msgpack, on two JSON records, printing what
// arrives, until the dev loop says it is done.
func runSinkCodecChild(adapter string) int {
	input := [][]byte{[]byte(`{"type":"a"}`), []byte(`{"type":"b"}`)}
	return runDevChild("sinkcodec", adapter, `pipeline:
  segments:
    - steps_config:
        in: {auto_offset_reset: earliest}
        out: {codec: msgpack}
`, sinkCodecPipeline().MustBuild(), input)
}

// TestSinkCodecOnTheDevBroker: through the development broker, the
// Serializer feeding a Kafka sink encodes with the sink's codec
// (msgpack) though its code names none, on the bundled runner and on
// prism.
func TestSinkCodecOnTheDevBroker(t *testing.T) {
	for _, adapter := range []string{AdapterLocal, AdapterBeam} {
		t.Run(adapter, func(t *testing.T) {
			t.Parallel()
			child := childtest.Start(t, sinkCodecChildPrefix+adapter)
			if !child.Wait(2 * time.Minute) {
				t.Fatal("the dev loop did not stop by itself")
			}
			if code := child.ExitCode(); code != 0 {
				t.Fatalf("exit code %d:\n%s", code, child.Stderr())
			}
			var types []string
			for line := range strings.SplitSeq(child.Stdout(), "\n") {
				v, ok := strings.CutPrefix(line, "encoded: ")
				if !ok {
					continue
				}
				var e map[string]any
				if err := msgpack.Unmarshal([]byte(v), &e); err != nil {
					t.Fatalf("record %q is not msgpack: %v", v, err)
				}
				types = append(types, fmt.Sprint(e["type"]))
			}
			if got := strings.Join(types, ","); got != "a,b" && got != "b,a" {
				t.Errorf("decoded types %q, want a and b:\n%s\n%s", got, child.Stdout(), child.Stderr())
			}
		})
	}
}
