package deploy

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/observe"
)

// overlays returns the segment overlays of k8s/ by segment id.
func overlays(t *testing.T) map[int]string {
	t.Helper()
	dirs, err := filepath.Glob("k8s/overlays/segment-*")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, d := range dirs {
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "segment-"))
		if err != nil {
			t.Fatalf("%s: want k8s/overlays/segment-N", d)
		}
		out[n] = d
	}
	if len(out) < 2 {
		t.Fatalf("overlays %v: want one per segment of the config (2)", dirs)
	}
	return out
}

// Container returns the pipeline's container of s.
func container(t *testing.T, s *Segment) *corev1.Container {
	t.Helper()
	cs := s.Deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "pipeline" {
		t.Fatalf("containers %v: want one, named pipeline", cs)
	}
	return &cs[0]
}

// envValue is the literal value of the container's variable name.
func envValue(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value, true
		}
	}
	return "", false
}

// flagValue is the value of --name=VALUE in the container's args.
func flagValue(c *corev1.Container, name string) (string, bool) {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// mountOf returns the volume mount under which path p lies.
func mountOf(c *corev1.Container, p string) (corev1.VolumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if p == m.MountPath || strings.HasPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/") {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

func volume(s *Segment, name string) (corev1.Volume, bool) {
	for _, v := range s.Deployment.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v, true
		}
	}
	return corev1.Volume{}, false
}

// loadConfig parses the deployment config the pod reads, with the
// container's environment for ${envvar:...}, and checks the runner finds
// it where --config says.
func loadConfig(t *testing.T, s *Segment, c *corev1.Container) *config.Config {
	t.Helper()
	p, ok := flagValue(c, "config")
	if !ok {
		t.Fatalf("args %q: no --config=FILE", c.Args)
	}
	m, ok := mountOf(c, p)
	if !ok {
		t.Fatalf("--config=%s: on no volume", p)
	}
	v, _ := volume(s, m.Name)
	if v.ConfigMap == nil || v.ConfigMap.Name != s.ConfigMap.Name {
		t.Fatalf("--config=%s: on volume %+v, want the ConfigMap %s", p, v, s.ConfigMap.Name)
	}
	key := strings.TrimPrefix(p, strings.TrimSuffix(m.MountPath, "/")+"/")
	data, ok := s.ConfigMap.Data[key]
	if !ok {
		t.Fatalf("--config=%s: the ConfigMap has no key %q", p, key)
	}
	cfg, err := config.Parse([]byte(data), func(name string) (string, bool) { return envValue(c, name) })
	if err != nil {
		t.Fatalf("the deployment config, with the container's environment: %v", err)
	}
	return cfg.EnsureDefaults()
}

func TestSegmentManifests(t *testing.T) {
	segs := map[int]*Segment{}
	for id, dir := range overlays(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			s, err := Render(dir)
			if err != nil {
				t.Fatal(err)
			}
			segs[id] = s
			c := container(t, s)
			cfg := loadConfig(t, s, c)

			if v, _ := envValue(c, "SEGMENT_ID"); v != strconv.Itoa(id) {
				t.Errorf("SEGMENT_ID=%q, want %d", v, id)
			}
			if _, err := cfg.Segment(id); err != nil {
				t.Errorf("segment %d: %v", id, err)
			}
			if !strings.HasSuffix(s.Deployment.Name, fmt.Sprintf("-segment-%d", id)) {
				t.Errorf("Deployment %s: want the suffix -segment-%d", s.Deployment.Name, id)
			}
			if r := s.Deployment.Spec.Replicas; r == nil || *r < 1 {
				t.Errorf("replicas %v: want at least 1", r)
			}

			// Metrics, probes and scraping, on the port the config serves.
			if cfg.Metrics.Type != config.MetricsPrometheus {
				t.Fatalf("metrics.type %q: nothing serves the probes; want %s", cfg.Metrics.Type, config.MetricsPrometheus)
			}
			_, port, err := net.SplitHostPort(cfg.Metrics.Address)
			if err != nil {
				t.Fatalf("metrics.address %q: %v", cfg.Metrics.Address, err)
			}
			if len(c.Ports) != 1 || strconv.Itoa(int(c.Ports[0].ContainerPort)) != port {
				t.Errorf("ports %+v: want one, %s (metrics.address %q)", c.Ports, port, cfg.Metrics.Address)
			}
			for _, pr := range []struct {
				name  string
				probe *corev1.Probe
				path  string
			}{
				{"startup", c.StartupProbe, observe.HealthPath},
				{"liveness", c.LivenessProbe, observe.HealthPath},
				{"readiness", c.ReadinessProbe, observe.ReadyPath},
			} {
				if pr.probe == nil || pr.probe.HTTPGet == nil {
					t.Errorf("%s probe %+v: want an HTTP GET", pr.name, pr.probe)
					continue
				}
				g := pr.probe.HTTPGet
				if g.Path != pr.path {
					t.Errorf("%s probe path %q, want %q", pr.name, g.Path, pr.path)
				}
				if g.Port.String() != c.Ports[0].Name && g.Port.String() != port {
					t.Errorf("%s probe port %q, want %s (%s)", pr.name, g.Port.String(), c.Ports[0].Name, port)
				}
			}
			// A restore must not be cut short by liveness: the startup probe
			// gives it minutes.
			if sp := c.StartupProbe; sp != nil && sp.PeriodSeconds*sp.FailureThreshold < 300 {
				t.Errorf("startup probe allows %ds, want at least 300s for a restore", sp.PeriodSeconds*sp.FailureThreshold)
			}
			ann := s.Deployment.Spec.Template.Annotations
			if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != port || ann["prometheus.io/path"] != cfg.Metrics.Path {
				t.Errorf("scrape annotations %v: want scrape true, port %s, path %s", ann, port, cfg.Metrics.Path)
			}

			// Where the runner writes: the state directory and $TMPDIR
			// (unset: /tmp), on writable volumes, as the root filesystem is
			// read-only.
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("container securityContext %+v: want a read-only root filesystem", sc)
			}
			stateDir, _ := envValue(c, "STREAMS_STATE_DIR")
			tmp, ok := envValue(c, "TMPDIR")
			if !ok {
				tmp = "/tmp"
			}
			for _, p := range []string{stateDir, tmp} {
				m, ok := mountOf(c, p)
				if !path.IsAbs(p) || !ok || m.ReadOnly {
					t.Errorf("%q: want an absolute path on a writable volume (mounts %+v)", p, c.VolumeMounts)
					continue
				}
				if v, _ := volume(s, m.Name); v.EmptyDir == nil && v.PersistentVolumeClaim == nil && v.Ephemeral == nil {
					t.Errorf("%s on volume %+v: want an emptyDir or a persistent volume", p, v)
				}
			}
			psc := s.Deployment.Spec.Template.Spec.SecurityContext
			if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
				t.Errorf("pod securityContext %+v: want a non-root user", psc)
			}

			// Resources: a memory limit that the Go runtime knows of.
			res := c.Resources
			if res.Requests.Cpu().IsZero() || res.Requests.Memory().IsZero() || res.Limits.Memory().IsZero() {
				t.Errorf("resources %+v: want cpu and memory requests and a memory limit", res)
			}
			var memLimit bool
			for _, e := range c.Env {
				memLimit = memLimit || e.Name == "GOMEMLIMIT" && e.ValueFrom != nil && e.ValueFrom.ResourceFieldRef != nil &&
					e.ValueFrom.ResourceFieldRef.Resource == "limits.memory"
			}
			if !memLimit {
				t.Error("no GOMEMLIMIT from limits.memory")
			}

			// Selectors: the Deployment's and the budget's select its pods.
			pods := labels.Set(s.Deployment.Spec.Template.Labels)
			for what, sel := range map[string]*metav1.LabelSelector{
				"Deployment":          s.Deployment.Spec.Selector,
				"PodDisruptionBudget": s.PDB.Spec.Selector,
			} {
				ls, err := metav1.LabelSelectorAsSelector(sel)
				if err != nil || ls.Empty() || !ls.Matches(pods) {
					t.Errorf("%s selector %v does not select the pods %v (%v)", what, sel, pods, err)
				}
			}
			if mu := s.PDB.Spec.MaxUnavailable; mu == nil || mu.IntValue() != 1 {
				t.Errorf("PodDisruptionBudget maxUnavailable %v, want 1", mu)
			}
			if ru := s.Deployment.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxSurge == nil || ru.MaxSurge.IntValue() != 0 {
				t.Errorf("rolling update %+v: want maxSurge 0 (a surge member would get no partition)", ru)
			}
		})
	}

	// Two segments' Deployments must not select each other's pods.
	for a, sa := range segs {
		for b, sb := range segs {
			if a == b {
				continue
			}
			ls, _ := metav1.LabelSelectorAsSelector(sa.Deployment.Spec.Selector)
			if ls.Matches(labels.Set(sb.Deployment.Spec.Template.Labels)) {
				t.Errorf("segment %d's selector selects segment %d's pods", a, b)
			}
			if sa.Deployment.Name == sb.Deployment.Name || sa.ConfigMap.Name == sb.ConfigMap.Name {
				t.Errorf("segments %d and %d share names", a, b)
			}
		}
	}
}

// TestConfigNeedsContainerEnv shows that loadConfig's check of
// ${envvar:...} can fail: without the container's variable the config
// does not load.
func TestConfigNeedsContainerEnv(t *testing.T) {
	data, err := os.ReadFile("k8s/base/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = config.Parse(data, func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "KAFKA_BOOTSTRAP_SERVERS") {
		t.Fatalf("config without KAFKA_BOOTSTRAP_SERVERS: err %v, want one naming it", err)
	}
}

// TestRenderStrict shows that Render refuses a field the API types do
// not have.
func TestRenderStrict(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"kustomization.yaml", "deployment.yaml", "pdb.yaml", "config.yaml"} {
		data, err := os.ReadFile(filepath.Join("k8s/base", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "deployment.yaml" {
			data = []byte(strings.Replace(string(data), "terminationGracePeriodSeconds:", "terminationGracePeriod:", 1))
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Render(dir)
	if err == nil || !strings.Contains(err.Error(), "terminationGracePeriod") {
		t.Fatalf("Render with an unknown field: err %v, want one naming it", err)
	}
}

// TestDockerfile checks the image recipe against the Makefile's toolchain
// and the rules of the image: static, non-root, the metrics port.
func TestDockerfile(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^export GOTOOLCHAIN := (\S+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile: no export GOTOOLCHAIN := ...")
	}
	toolchain := string(m[1])

	df := parseDockerfile(t, "Dockerfile")
	stages, env, user, expose, entry, runs := len(df.stages), df.env, df.user, df.expose, df.entry, df.runs
	if stages < 2 {
		t.Errorf("%d stages, want a build stage and a runtime stage", stages)
	}
	for _, want := range []string{"GOTOOLCHAIN=" + toolchain, "CGO_ENABLED=0"} {
		found := false
		for _, e := range env {
			found = found || e == want
		}
		if !found {
			t.Errorf("ENV %q: want %s", env, want)
		}
	}
	var builds int
	ldflags := regexp.MustCompile(`-ldflags[= ]("[^"]*"|'[^']*'|\S+)`)
	for _, r := range runs {
		if !strings.Contains(r, "go build") {
			continue
		}
		builds++
		for _, m := range ldflags.FindAllStringSubmatch(r, -1) {
			for _, f := range strings.Fields(strings.Trim(m[1], `"'`)) {
				if f == "-s" {
					t.Errorf("RUN %s: -s drops the symbol table, where Beam finds unregistered functions", r)
				}
			}
		}
	}
	if builds != 1 {
		t.Errorf("%d RUN go build, want 1", builds)
	}
	if len(user) == 0 || strings.HasPrefix(user[len(user)-1], "root") || strings.HasPrefix(user[len(user)-1], "0") {
		t.Errorf("USER %q: want a non-root user last", user)
	}
	def := (&config.Config{Metrics: config.Metrics{Type: config.MetricsPrometheus}}).EnsureDefaults().Metrics.Address
	if _, port, _ := net.SplitHostPort(def); len(expose) != 1 || expose[0] != port {
		t.Errorf("EXPOSE %q, want the default metrics port %s", expose, port)
	}
	if len(entry) != 1 {
		t.Errorf("ENTRYPOINT %q: want one", entry)
	}
}
