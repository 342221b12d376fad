package runner

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal/extworker"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/devbroker"
	"github.com/streams-dev/streams/internal/childtest"
)

// Children of the Job API test: a standalone prism job server on a
// port, a Beam worker pool (EXTERNAL environment, as Flink's task
// managers run Go workers) and a submitter running the program's main
// with the arguments after the prefix, separated by spaces.
const (
	jobServerChildPrefix  = "prism-job-server:"
	workerPoolChildPrefix = "worker-pool"
	submitChildPrefix     = "submit:"
)

func runJobAPIChild(spec string) (int, bool) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	switch {
	case strings.HasPrefix(spec, jobServerChildPrefix):
		port, _ := strconv.Atoi(strings.TrimPrefix(spec, jobServerChildPrefix))
		if _, err := prism.CreateJobServer(ctx, prism.Options{Port: port}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1, true
		}
		<-ctx.Done()
		return 0, true
	case spec == workerPoolChildPrefix:
		// The workers run the pipeline's DoFns: its step table first.
		beamtranslate.Register(beamtranslate.DefaultID, seedPipeline().MustBuild())
		pool, err := extworker.StartLoopback(ctx, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1, true
		}
		fmt.Println("pool", pool.EnvironmentConfig(ctx))
		<-ctx.Done()
		return 0, true
	case strings.HasPrefix(spec, submitChildPrefix):
		args := strings.Fields(strings.TrimPrefix(spec, submitChildPrefix))
		return main(seedPipeline(), flag.CommandLine, args, os.Stdout, os.Stderr), true
	}
	return 0, false
}

// TestJobServer is issue 20's CI test: the seed pipeline goes to a
// standalone prism job server through the Job API (--runner=universal),
// its workers in a worker pool of their own (EXTERNAL). Attached, the
// submitter logs the job's id and states, outputs reach Kafka, and
// SIGTERM cancels the job, which ends CANCELLED; the jobs command lists
// it. Detached (--detach), the submitter exits at once, the job goes on
// producing without it, `jobs show` reads its state back through the
// Job API and `jobs cancel` stops it.
func TestJobServer(t *testing.T) {
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"), devbroker.Partitions(2), devbroker.Topics("events", "transformed-events"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceEvents(ctx, t, cl, 1000)

	endpoint := startJobServer(t)
	pool := startWorkerPool(t)
	metricsAddr := freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf("metrics: {type: prometheus, address: %q}\npipeline:\n  segments:\n    - steps_config:\n        myinput: {bootstrap_servers: [%q], consumer_group: jobs, auto_offset_reset: earliest}\n", metricsAddr, b.Addr()))
	beamArgs := fmt.Sprintf("--config %s --adapter beam --runner universal --endpoint %s --environment_type EXTERNAL --environment_config %s", cfg, endpoint, pool)

	// Attached: SIGTERM cancels the job.
	sub := childtest.Start(t, submitChildPrefix+beamArgs)
	waitForRecords(ctx, t, b.Addr(), "transformed-events", 500, sub)
	id := jobID(t, sub.Stderr())
	if !strings.Contains(sub.Stderr(), "state=RUNNING") {
		t.Errorf("the submitter did not log the job's state:\n%s", lastLines(sub.Stderr(), 20))
	}
	// The steps run in the worker pool; the submitter serves their
	// counts, read back through the Job API, on its /metrics.
	served := waitForMetric(t, "http://"+metricsAddr+"/metrics", `streams_step_messages_in_total\{[^}]*step="mymap"[^}]*\} 1000\b`)
	t.Logf("the submitter's /metrics: %s", served)
	if !sub.Terminate(t, time.Minute) || sub.ExitCode() != 0 {
		t.Fatalf("the submitter did not stop cleanly on SIGTERM (exit %d):\n%s", sub.ExitCode(), lastLines(sub.Stderr(), 20))
	}
	if !regexp.MustCompile(`msg="the Beam job was cancelled" .*\bjob=` + regexp.QuoteMeta(id) + ` state=CANCELLED`).MatchString(sub.Stderr()) {
		t.Errorf("the submitter did not log the cancelled job:\n%s", lastLines(sub.Stderr(), 20))
	}
	attached := topicTotal(ctx, kadm.NewClient(cl), "transformed-events")
	code, out, errs := runMain(t, "jobs", "--endpoint", endpoint, "list")
	if code != ExitOK || !regexp.MustCompile(regexp.QuoteMeta(id)+`\s+\S+\s+CANCELLED`).MatchString(out) {
		t.Errorf("jobs list: exit %d, want job %s CANCELLED:\n%s%s", code, id, out, errs)
	}
	t.Logf("attached job %s: outputs on Kafka, cancelled on SIGTERM; jobs list:\n%s", id, out)

	// Detached: the job outlives the submitter until jobs cancel. A
	// group of its own reads the input from the start: 2,000 records,
	// 1,000 outputs more.
	cfg = writeConfig(t, fmt.Sprintf("pipeline:\n  segments:\n    - steps_config:\n        myinput: {bootstrap_servers: [%q], consumer_group: jobs-detached, auto_offset_reset: earliest}\n", b.Addr()))
	beamArgs = fmt.Sprintf("--config %s --adapter beam --runner universal --endpoint %s --environment_type EXTERNAL --environment_config %s", cfg, endpoint, pool)
	sub = childtest.Start(t, submitChildPrefix+beamArgs+" --detach")
	if !sub.Wait(2*time.Minute) || sub.ExitCode() != 0 {
		t.Fatalf("the detached submitter did not exit by itself (exit %d):\n%s", sub.ExitCode(), lastLines(sub.Stderr(), 20))
	}
	id = jobID(t, sub.Stderr())
	produceEvents(ctx, t, cl, 1000)
	waitForRecords(ctx, t, b.Addr(), "transformed-events", int(attached)+1000, nil)
	// The steps' Beam counters come with the bundles that end after the
	// outputs: 2,000 records in, 1,000 out of the filter.
	wantIn := regexp.MustCompile(`(?m)^streams/mymap\.in\s+2000$`)
	wantOut := regexp.MustCompile(`(?m)^streams/myfilter\.out\s+1000$`)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		code, out, errs = runMain(t, "jobs", "--endpoint", endpoint, "show", id)
		if code != ExitOK || !strings.Contains(out, "job "+id+": RUNNING") {
			t.Fatalf("jobs show of the detached job: exit %d:\n%s%s", code, out, errs)
		}
		if wantIn.MatchString(out) && wantOut.MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs show: the steps' counters are not 2,000 in and 1,000 out of the filter after a minute:\n%s", out)
		}
	}
	t.Logf("detached job %s runs without its submitter; jobs show:\n%s", id, out)
	code, out, errs = runMain(t, "jobs", "--endpoint", endpoint, "cancel", id)
	if code != ExitOK || !strings.Contains(out, "job "+id+": CANCELLED") {
		t.Errorf("jobs cancel: exit %d:\n%s%s", code, out, errs)
	}
	t.Logf("jobs cancel: %s", strings.TrimSpace(out))
}

// jobID is the id of the job a submitter's log says it submitted.
func jobID(t *testing.T, log string) string {
	t.Helper()
	m := regexp.MustCompile(`msg="Beam job submitted" .*\bjob=(\S+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("the submitter did not log a job id:\n%s", lastLines(log, 20))
	}
	return m[1]
}

// startJobServer starts a prism job server in a child process and
// returns its endpoint once it accepts connections.
func startJobServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	child := childtest.Start(t, jobServerChildPrefix+strconv.Itoa(port))
	t.Cleanup(func() { child.Terminate(t, 10*time.Second) })
	endpoint := fmt.Sprintf("localhost:%d", port)
	for deadline := time.Now().Add(time.Minute); ; {
		if c, err := net.Dial("tcp", endpoint); err == nil {
			c.Close()
			return endpoint
		}
		if child.Exited() || time.Now().After(deadline) {
			t.Fatalf("the job server did not start:\n%s", child.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startWorkerPool starts a Beam worker pool in a child process and
// returns its address.
func startWorkerPool(t *testing.T) string {
	t.Helper()
	child := childtest.Start(t, workerPoolChildPrefix)
	t.Cleanup(func() { child.Terminate(t, 10*time.Second) })
	for deadline := time.Now().Add(time.Minute); ; {
		if addr, ok := strings.CutPrefix(strings.TrimSpace(child.Stdout()), "pool "); ok {
			return addr
		}
		if child.Exited() || time.Now().After(deadline) {
			t.Fatalf("the worker pool did not start:\n%s", child.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The jobs command refuses a call without an endpoint or a command.
func TestJobsUsage(t *testing.T) {
	t.Setenv("STREAMS_JOB_ENDPOINT", "")
	code, _, errs := runMain(t, "jobs", "show")
	if code != ExitUsage || !strings.Contains(errs, "--endpoint (or $STREAMS_JOB_ENDPOINT) is required") || !strings.Contains(errs, `want list, show JOB_ID or cancel JOB_ID`) {
		t.Errorf("jobs show without endpoint and id: exit %d:\n%s", code, errs)
	}
}

// freeAddr is a free local TCP address.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitForMetric polls url until a line of it matches pattern, for up to a
// minute, and returns the line.
func waitForMetric(t *testing.T, url, pattern string) string {
	t.Helper()
	re := regexp.MustCompile(pattern)
	var body []byte
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			continue
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := re.Find(body); m != nil {
			return string(m)
		}
	}
	t.Fatalf("%s: no line matches %s after a minute:\n%s", url, pattern, body)
	return ""
}
