package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/childtest"
)

const blobChildPrefix = "blob:"

func blobPipeline() dsl.Pipeline {
	return dsl.StreamingSource("in", "events").
		Apply("upper", dsl.Map(func(b []byte) ([]byte, error) { return bytes.ToUpper(b), nil })).
		Sink("archive", dsl.BlobSink("arroyo-artifacts", dsl.BlobDelimiter([]byte("\n"))))
}

// The deployment config's bucket, object_name and batch keys replace the
// BlobSink's; keys left out keep the code's.
func TestResolveBlobSink(t *testing.T) {
	d := mustResolve(t, blobPipeline().MustBuild(), `pipeline:
  segments:
    - steps_config:
        archive: {bucket: "file:///tmp/x", object_name: "a/{seq}", batch_bytes: 100, batch_time_ms: 250}
`)
	g := blobPipeline().MustBuild()
	want := beamtranslate.BlobBinding{Bucket: "file:///tmp/x", ObjectName: "a/{seq}", MaxMessages: 1, MaxBytes: 100, MaxWait: 250 * time.Millisecond}
	if got, err := beamtranslate.BlobBindingOf(g.Node("archive"), d.bindings.Values["archive"]); err != nil || got != want {
		t.Errorf("blob binding %+v, %v; want %+v", got, err, want)
	}
	d = mustResolve(t, g, "pipeline: {segments: [{}]}\n")
	want = beamtranslate.BlobBinding{Bucket: "arroyo-artifacts", ObjectName: "{step}/{date}/{hour}/{partition}-{offset}-{seq}", MaxMessages: 1}
	if got, err := beamtranslate.BlobBindingOf(g.Node("archive"), d.bindings.Values["archive"]); err != nil || got != want {
		t.Errorf("blob binding without config %+v, %v; want %+v", got, err, want)
	}
}

// A bucket no driver takes and an unknown template field are refused at
// start, naming the step.
func TestBlobSinkBadBucketAndTemplateRefused(t *testing.T) {
	for yaml, want := range map[string]string{
		`archive: {bucket: "azblob://x"}`: `blob sink step archive: blob: bad bucket: "azblob://x": scheme "azblob" is not one of file, gs, s3`,
		`archive: {object_name: "{day}"}`: `blob sink step archive: blob: object name template "{day}": unknown field {day}`,
	} {
		cfg, err := config.Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        "+yaml+"\n"), nil, ConfigOption())
		if err != nil {
			t.Fatal(err)
		}
		err = Run(context.Background(), blobPipeline().MustBuild(), Options{Config: cfg, Logger: slog.New(slog.DiscardHandler)})
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), want) {
			t.Errorf("Run: %v; want a config error with %q", err, want)
		}
	}
}

// runBlobChild runs blobPipeline on the embedded broker with the given
// adapter, writing objects of up to two messages to dir, until its input is
// processed.
func runBlobChild(spec string) int {
	adapter, dir, _ := strings.Cut(spec, ":")
	cfg, err := config.Parse(fmt.Appendf(nil, `pipeline:
  segments:
    - steps_config:
        in: {auto_offset_reset: earliest}
        archive: {bucket: "file://%s", object_name: "{step}/{partition}-{offset}-{seq}.txt", batch_size: 2, batch_time_ms: 300}
`, dir), nil, ConfigOption())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var input [][]byte
	for i := range 8 {
		input = append(input, fmt.Appendf(nil, "r%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err = Run(ctx, blobPipeline().MustBuild(), Options{
		Config: cfg, Adapter: adapter, DevBrokerAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Dev:    &DevOptions{Input: input, ExitWhenDone: true},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

// End to end through the embedded development broker, on the bundled
// runner and on prism: 8 messages, mapped, in objects of at most 2 (a
// partition's odd message goes out when its 300 ms are up) in a local
// directory (the file driver), every message once, each object whole.
func TestBlobSinkEndToEnd(t *testing.T) {
	for _, adapter := range []string{AdapterLocal, AdapterBeam} {
		t.Run(adapter, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			child := childtest.Start(t, blobChildPrefix+adapter+":"+dir)
			if !child.Wait(2 * time.Minute) {
				t.Fatalf("the pipeline did not stop by itself:\n%s", child.Stderr())
			}
			if code := child.ExitCode(); code != 0 {
				t.Fatalf("exit code %d:\n%s", code, lastLines(child.Stderr(), 20))
			}
			files, err := filepath.Glob(filepath.Join(dir, "archive", "*.txt"))
			if err != nil {
				t.Fatal(err)
			}
			var lines []string
			for _, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				ls := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
				if len(ls) > 2 || !strings.HasSuffix(string(data), "\n") {
					t.Errorf("%s: %q, want one or two lines", filepath.Base(f), data)
				}
				lines = append(lines, ls...)
			}
			slices.Sort(lines)
			t.Logf("%d objects: %v", len(files), files)
			want := []string{"R0", "R1", "R2", "R3", "R4", "R5", "R6", "R7"}
			if !slices.Equal(lines, want) {
				t.Errorf("objects %d hold %v, want %v", len(files), lines, want)
			}
		})
	}
}
