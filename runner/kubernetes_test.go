package runner

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/deploy"
	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/localrunner"
)

// k8sEvent and k8sPipeline are examples/windowed_counts, the program
// deploy/k8s runs (a program cannot be imported): the same step names and
// kinds, so that the config of the manifests is checked against them.
type k8sEvent struct {
	User string `json:"user"`
}

var k8sPipeline = dsl.StreamingSource("events", "events").
	Apply("parse", dsl.Map(func(b []byte) (k8sEvent, error) {
		var e k8sEvent
		if err := json.Unmarshal(b, &e); err != nil {
			return e, err
		}
		if e.User == "" {
			return e, errors.New("event without a user")
		}
		return e, nil
	})).
	Apply("count", dsl.Reduce(dsl.TumblingWindow(10*time.Second), func(e k8sEvent) string { return e.User }, dsl.Count[k8sEvent]())).
	Apply("serialize", dsl.Serializer[dsl.Windowed[string, int]]()).
	Sink("user-counts", dsl.StreamSink("user-counts"))

// TestKubernetesManifests reads each segment's pod in deploy/k8s as the
// runner would: its args parsed by the runner's own flags, with its
// environment (SEGMENT_ID, STREAMS_STATE_DIR) as their defaults. deploy's
// own test checks the manifests against the config and the probes.
func TestKubernetesManifests(t *testing.T) {
	dirs, err := filepath.Glob("../deploy/k8s/overlays/segment-*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no overlays (%v)", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			id := strings.TrimPrefix(filepath.Base(dir), "segment-")
			s, err := deploy.Render(dir)
			if err != nil {
				t.Fatal(err)
			}
			pod := s.Deployment.Spec.Template.Spec
			c := pod.Containers[0]
			env := map[string]string{}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					env[e.Name] = e.Value
					t.Setenv(e.Name, e.Value)
				}
			}
			fs := flag.NewFlagSet("pipeline", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f := defineFlags(fs)
			if err := fs.Parse(c.Args); err != nil || fs.NArg() > 0 {
				t.Fatalf("args %q: %v (left over: %q)", c.Args, err, fs.Args())
			}
			if f.segmentID != id {
				t.Errorf("segment id %q, want %s (SEGMENT_ID or --segment-id)", f.segmentID, id)
			}
			if f.stateDir == "" || f.stateDir == "none" || f.stateDir != env["STREAMS_STATE_DIR"] {
				t.Errorf("state dir %q, want the state volume's STREAMS_STATE_DIR %q", f.stateDir, env["STREAMS_STATE_DIR"])
			}
			if f.configPath == "" || f.name == "" || f.name == "streams" {
				t.Errorf("--config %q, --name %q: want both, the name the pipeline's", f.configPath, f.name)
			}
			if f.adapter != AdapterLocal {
				t.Errorf("adapter %q: the bundled runner (%s) reads Kafka as a group member", f.adapter, AdapterLocal)
			}
			if f.input != "" || f.printOutput || f.exitWhenDone || f.devBroker != "" {
				t.Errorf("development flags in a deployment: %q", c.Args)
			}
			if f.logFormat != "json" {
				t.Errorf("--log-format %q: want json for a log collector", f.logFormat)
			}

			// The ConfigMap's config, as the runner reads it in the pod:
			// valid for the pipeline and the segment, with brokers of its
			// own (none would embed a development broker in the pod), and
			// the state where STREAMS_STATE_DIR puts it.
			seg, _ := strconv.Atoi(f.segmentID)
			data, ok := s.ConfigMap.Data[path.Base(f.configPath)]
			if !ok {
				t.Fatalf("--config %s: the ConfigMap has no %s", f.configPath, path.Base(f.configPath))
			}
			cfg, err := config.Parse([]byte(data), func(n string) (string, bool) { v, ok := env[n]; return v, ok }, ConfigOption())
			if err != nil {
				t.Fatal(err)
			}
			g, err := k8sPipeline.Build()
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Validate(seg, StepInfos(g)); err != nil {
				t.Fatalf("the config, for segment %d: %v", seg, err)
			}
			if err := checkSegments(g, cfg); err != nil {
				t.Fatal(err)
			}
			view, err := segmentView(cfg, seg)
			if err != nil {
				t.Fatal(err)
			}
			dep, err := resolve(g, view)
			if err != nil {
				t.Fatal(err)
			}
			if dep.needsDevBroker {
				t.Error("the config names no bootstrap_servers: the pod would embed a development broker")
			}
			opts := Options{Name: f.name, SegmentID: seg, StateDir: f.stateDir}
			if dir := stateDir(g, opts, dep.bindings.Source.Group); dir != env["STREAMS_STATE_DIR"] {
				t.Errorf("state dir %q, want STREAMS_STATE_DIR %q", dir, env["STREAMS_STATE_DIR"])
			}

			// SIGTERM: the drain, then Sentry's flush, then the rest (commit,
			// checkpoint, close) must fit in the grace period.
			need := localrunner.DefaultDrainTimeout + sentryFlushTimeout
			grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
			if grace < 2*need {
				t.Errorf("terminationGracePeriodSeconds %v: want at least twice the drain and the flush (%v)", grace, need)
			}
			if _, err := strconv.Atoi(id); err != nil {
				t.Errorf("overlay %s: want segment-N", dir)
			}
		})
	}
}
