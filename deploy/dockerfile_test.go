package deploy

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/devbroker"
	"github.com/streams-dev/streams/io/blob"
)

// dockerfile is what the tests read of a Dockerfile: no Docker daemon
// runs here, so the instructions are parsed by hand (continuation lines
// joined, comments dropped) and checked one by one.
type dockerfile struct {
	stages []string          // the FROM lines
	args   map[string]string // ARG name=default
	env    []string          // ENV k=v, as written
	user   []string
	expose []string
	entry  []string
	runs   []string
	// copies are the COPY lines of the last stage.
	copies []string
}

func parseDockerfile(t *testing.T, name string) dockerfile {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	df := dockerfile{args: map[string]string{}}
	sc := bufio.NewScanner(f)
	var line string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(l, "\\"); ok {
			line += cont + " "
			continue
		}
		line += l
		instr, args, _ := strings.Cut(line, " ")
		line = ""
		switch strings.ToUpper(instr) {
		case "FROM":
			df.stages = append(df.stages, args)
			df.copies = nil
		case "ARG":
			k, v, _ := strings.Cut(args, "=")
			df.args[k] = v
		case "ENV":
			df.env = append(df.env, strings.Fields(args)...)
		case "USER":
			df.user = append(df.user, args)
		case "EXPOSE":
			df.expose = append(df.expose, args)
		case "ENTRYPOINT":
			df.entry = append(df.entry, args)
		case "RUN":
			df.runs = append(df.runs, args)
		case "COPY":
			df.copies = append(df.copies, args)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return df
}

// goBuilds are the RUN lines that run go build, without their --mount
// options: the commands as a shell runs them.
func (df dockerfile) goBuilds() []string {
	var out []string
	for _, r := range df.runs {
		if !strings.Contains(r, "go build") {
			continue
		}
		f := strings.Fields(r)
		for len(f) > 0 && strings.HasPrefix(f[0], "--mount=") {
			f = f[1:]
		}
		out = append(out, strings.Join(f, " "))
	}
	return out
}

// Where Beam's Go containers keep the boot loader, and the package it is
// built from (in the Beam module go.mod requires).
const (
	beamBoot    = "/opt/apache/beam/boot"
	bootPackage = "github.com/apache/beam/sdks/v2/go/container"
)

// TestBeamWorkerDockerfile checks the Beam worker image recipe as far as
// it can be without Docker: its instructions against the layout of
// Beam's Go containers, then (unless -short) its two go build commands,
// run as the Dockerfile runs them, and what they make: Beam's boot
// loader, and the pipeline with its symbol table and without the
// development broker.
func TestBeamWorkerDockerfile(t *testing.T) {
	df := parseDockerfile(t, "beam-worker.Dockerfile")
	if len(df.stages) != 2 {
		t.Fatalf("stages %q: want a build stage and the image", df.stages)
	}
	if !slices.Contains(df.env, "CGO_ENABLED=0") || !slices.ContainsFunc(df.env, func(e string) bool { return strings.HasPrefix(e, "GOTOOLCHAIN=go1.27") }) {
		t.Errorf("ENV %q: want CGO_ENABLED=0 and GOTOOLCHAIN=go1.27.x", df.env)
	}
	if len(df.entry) != 1 || df.entry[0] != `["`+beamBoot+`"]` {
		t.Errorf("ENTRYPOINT %q: want Beam's boot loader, %s, as Beam's Go images have it", df.entry, beamBoot)
	}
	builds := df.goBuilds()
	if len(builds) != 2 || !strings.HasSuffix(builds[0], " "+bootPackage) {
		t.Fatalf("go builds %q: want the boot loader (%s), then the pipeline", builds, bootPackage)
	}
	ldflags := regexp.MustCompile(`-ldflags[= ]("[^"]*"|'[^']*'|\S+)`)
	for _, m := range ldflags.FindAllStringSubmatch(builds[1], -1) {
		if slices.Contains(strings.Fields(strings.Trim(m[1], `"'`)), "-s") {
			t.Errorf("RUN %s: -s drops the symbol table, where Beam finds unregistered functions", builds[1])
		}
	}
	outs := regexp.MustCompile(`-o (/out/\S+)`)
	copied := map[string]string{} // build output -> image path
	for _, c := range df.copies {
		f := strings.Fields(c)
		if len(f) == 3 && strings.HasPrefix(f[0], "--from=") {
			copied[f[1]] = f[2]
		}
	}
	var bins []string
	for _, b := range builds {
		m := outs.FindStringSubmatch(b)
		if m == nil {
			t.Fatalf("RUN %s: want -o /out/NAME", b)
		}
		if _, ok := copied[m[1]]; !ok {
			t.Errorf("%s is built but not copied into the image (COPY %q)", m[1], df.copies)
		}
		bins = append(bins, m[1])
	}
	if copied[bins[0]] != beamBoot {
		t.Errorf("the boot loader goes to %q, want %s", copied[bins[0]], beamBoot)
	}
	if !strings.Contains(df.args["TAGS"], devbroker.NoDevBrokerTag) {
		t.Errorf("ARG TAGS=%q: want %s (workers of a remote runner need configured brokers)", df.args["TAGS"], devbroker.NoDevBrokerTag)
	}

	if testing.Short() {
		t.Skip("-short: the image's go builds are not run")
	}
	// The RUN lines, run by a shell in the repository's root with the
	// Dockerfile's ENV and ARG defaults, /out/ here in a temporary dir.
	out := t.TempDir()
	env := os.Environ()
	env = append(env, df.env...)
	for k, v := range df.args {
		env = append(env, k+"="+v)
	}
	for _, b := range builds {
		cmd := exec.Command("sh", "-c", strings.ReplaceAll(b, "/out/", out+"/"))
		cmd.Dir = ".."
		cmd.Env = env
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("RUN %s: %v\n%s", b, err, o)
		}
	}
	boot := filepath.Join(out, filepath.Base(bins[0]))
	pipeline := filepath.Join(out, filepath.Base(bins[1]))

	// Beam's boot loader: without the Fn API's flags it says what it
	// lacks, as Beam's boot.go does.
	o, err := exec.Command(boot).CombinedOutput()
	if err == nil || !bytes.Contains(o, []byte("No id provided.")) {
		t.Errorf("%s without flags: %v, %s; want Beam's boot loader asking for --id", boot, err, o)
	}

	// The pipeline: static, with its symbol table, without kfake.
	ef, err := elf.Open(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	if ef.Section(".symtab") == nil {
		t.Errorf("%s has no symbol table: Beam cannot find unregistered functions", pipeline)
	}
	if ef.Section(".interp") != nil {
		t.Errorf("%s is dynamically linked: the image has no libc", pipeline)
	}
	ef.Close()
	bi, err := buildinfo.ReadFile(pipeline)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range bi.Deps {
		if strings.HasPrefix(d.Path, "github.com/twmb/franz-go/pkg/kfake") {
			t.Errorf("the pipeline links %s: built without %s it should not", d.Path, devbroker.NoDevBrokerTag)
		}
	}
	// Asked for the development broker (no bootstrap_servers), it says it
	// has none.
	cmd := exec.Command(pipeline, "-n", "simple_map_filter", "--config", "deployment_config/simple_map_filter.yaml",
		"--adapter", "local", "--dev-broker", "127.0.0.1:0")
	cmd.Dir = ".."
	o, err = cmd.CombinedOutput()
	if err == nil || !bytes.Contains(o, []byte(devbroker.ErrLeftOut.Error())) {
		t.Errorf("the pipeline without bootstrap_servers: %v\n%s\nwant %q", err, o, devbroker.ErrLeftOut)
	}

	t.Run("PROCESS", func(t *testing.T) { runProcessEnvironment(t, env, out, boot, pipeline) })
}

// runProcessEnvironment runs the image's two binaries as a runner runs
// the image, without Docker: a standalone prism job server (built from
// the Beam module) starts workers in the PROCESS environment, whose
// command is the boot loader; the submitter stages the pipeline binary
// (--worker_binary), which the boot loader fetches and runs. Outputs on
// Kafka mean the worker ran; SIGTERM of the submitter cancels the job.
func runProcessEnvironment(t *testing.T, env []string, dir, boot, pipeline string) {
	prismBin := filepath.Join(dir, "prism")
	build := exec.Command("go", "build", "-o", prismBin, "github.com/apache/beam/sdks/v2/go/cmd/prism")
	build.Dir = ".."
	build.Env = env
	if o, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build prism: %v\n%s", err, o)
	}
	port := freePort(t)
	prismCmd := exec.Command(prismBin, "--job_port", port, "--serve_http=false")
	// Its workers' directory: the boot loader writes pipeline_options.json
	// where it runs.
	prismCmd.Dir = t.TempDir()
	var prismLog syncBuffer
	prismCmd.Stdout, prismCmd.Stderr = &prismLog, &prismLog
	// Workers it started may outlive it, holding its output open.
	prismCmd.WaitDelay = 5 * time.Second
	if err := prismCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { prismCmd.Process.Kill(); prismCmd.Wait() }()

	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(1),
		devbroker.Topics("events", "transformed-events", "events-dlq"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	events, err := os.ReadFile("../examples/simple_map_filter/sample_events.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(events)), "\n")
	want := 0
	for _, l := range lines {
		if strings.Contains(l, `"type": "event"`) {
			want++
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(l)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Prism v2.77.0 starts a PROCESS worker with --id='ID', the quotes
	// in the value (environments.go execs, no shell strips them; its
	// DOCKER environment passes --id=ID), and then refuses the boot
	// loader's worker id "'ID'". A shell between them strips the quotes,
	// so that the boot loader gets what a container of the image would.
	// It also keeps the staged files in a temporary directory
	// (--semi_persist_dir, default /tmp).
	cmdFile := filepath.Join(t.TempDir(), "boot.sh")
	script := "#!/bin/sh\nfor a; do case \"$a\" in --id=\\'*\\') a=\"--id=${a#--id=\\'}\"; a=\"${a%\\'}\";; esac; set -- \"$@\" \"$a\"; shift; done\n" +
		"exec " + boot + " --semi_persist_dir=" + t.TempDir() + " \"$@\"\n"
	// The boot loader copies the worker binary to /tmp/bin*/worker
	// whatever the flags say: remove the copies it makes here.
	before, _ := filepath.Glob("/tmp/bin*")
	defer func() {
		after, _ := filepath.Glob("/tmp/bin*")
		for _, d := range after {
			if _, err := os.Stat(filepath.Join(d, "worker")); err == nil && !slices.Contains(before, d) {
				os.RemoveAll(d)
			}
		}
	}()
	if err := os.WriteFile(cmdFile, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `pipeline:
  segments:
    - steps_config:
        myinput: {bootstrap_servers: [%q], consumer_group: process-env, auto_offset_reset: earliest, dlq: {topic: events-dlq}}
`, b.Addr()), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := exec.Command(pipeline, "-n", "simple_map_filter", "--config", cfg, "--adapter", "beam",
		"--runner", "universal", "--endpoint", "localhost:"+port,
		"--environment_type", "PROCESS", "--environment_config", fmt.Sprintf(`{"command": %q}`, cmdFile),
		"--worker_binary", pipeline)
	sub.Dir = ".."
	var subLog syncBuffer
	sub.Stdout, sub.Stderr = &subLog, &subLog
	sub.WaitDelay = 5 * time.Second
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sub.Wait() }()
	defer func() {
		if sub.ProcessState == nil {
			sub.Process.Kill()
			<-done
		}
	}()

	// Read the output topic until the kept events are there.
	rd, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("transformed-events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	got := 0
	for got < want {
		select {
		case err := <-done:
			t.Fatalf("the submitter exited (%v) with %d of %d outputs:\n%s\nprism:\n%s", err, got, want, tail(subLog.String(), 30), tail(prismLog.String(), 30))
		default:
		}
		fctx, fcancel := context.WithTimeout(ctx, time.Second)
		fs := rd.PollFetches(fctx)
		fcancel()
		if ctx.Err() != nil {
			t.Fatalf("%d of %d outputs after 3 minutes; the submitter:\n%s\nprism:\n%s", got, want, tail(subLog.String(), 30), tail(prismLog.String(), 30))
		}
		got += fs.NumRecords()
	}
	t.Logf("PROCESS environment: %d outputs on Kafka from the worker the boot loader ran", got)

	sub.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil || !strings.Contains(subLog.String(), "state=CANCELLED") {
			t.Errorf("the submitter on SIGTERM: %v, want exit 0 and the job CANCELLED:\n%s", err, tail(subLog.String(), 20))
		}
	case <-time.After(time.Minute):
		t.Errorf("the submitter did not stop within a minute of SIGTERM:\n%s", tail(subLog.String(), 20))
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// syncBuffer is a bytes.Buffer that a child's output goroutine writes
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-n):], "\n")
}

// TestBuildTags builds the packages that our build tags change with each
// tag, and checks that what a size-cutting tag leaves out of a pipeline
// program is out of it.
func TestBuildTags(t *testing.T) {
	for _, tc := range []struct {
		tag   string
		check []string // a go command run with the tag
		gone  string   // a module prefix no longer linked
	}{
		// The pipeline built with it runs in TestBeamWorkerDockerfile.
		{devbroker.NoDevBrokerTag, []string{"vet", "./devbroker/", "./cmd/streams/"}, "github.com/twmb/franz-go/pkg/kfake"},
		{blob.NoS3Tag, []string{"test", "-run", "^TestURLS3$", "./io/blob/"}, "github.com/aws/"},
		// beamtranslate.NoBeamMetricsTag, for make bench only (not
		// imported: Beam stays out of this test binary).
		{"streams_nobeammetrics", []string{"vet", "./beamtranslate/"}, ""},
	} {
		t.Run(tc.tag, func(t *testing.T) {
			args := append([]string{tc.check[0], "-tags", tc.tag}, tc.check[1:]...)
			build := exec.Command("go", args...)
			build.Dir = ".."
			if o, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, o)
			}
			if tc.gone == "" {
				return
			}
			for _, tags := range []string{"", tc.tag} {
				list := exec.Command("go", "list", "-deps", "-tags", tags, "./examples/simple_map_filter")
				list.Dir = ".."
				o, err := list.Output()
				if err != nil {
					t.Fatalf("go list -tags %q: %v", tags, err)
				}
				if linked := bytes.Contains(o, []byte("\n"+tc.gone)); linked != (tags == "") {
					t.Errorf("-tags %q: %s linked = %v", tags, tc.gone, linked)
				}
			}
		})
	}
}
