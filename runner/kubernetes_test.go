package runner

import (
	"flag"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/deploy"
	"github.com/streams-dev/streams/localrunner"
)

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
