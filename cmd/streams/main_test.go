package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streams-dev/streams/devbroker"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// syncBuffer is a bytes.Buffer that a command may write while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestUsage: bare `streams` and unknown commands print usage on stderr and
// exit 2, `streams help` lists the commands on stdout and exits 0, and bad
// flags or arguments exit 2.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		stdout   string // must contain
		stderr   string // must contain
		noStdout bool
	}{
		{args: nil, code: 2, stderr: "usage: streams <command>", noStdout: true},
		{args: []string{"frob"}, code: 2, stderr: `unknown command "frob"`, noStdout: true},
		{args: []string{"help"}, code: 0, stdout: "broker "},
		{args: []string{"--help"}, code: 0, stdout: "broker "},
		{args: []string{"help", "broker"}, code: 0, stderr: "-data-dir"},
		{args: []string{"help", "frob"}, code: 2, stderr: `unknown command "frob"`},
		{args: []string{"broker", "-frob"}, code: 2, stderr: "-frob"},
		{args: []string{"broker", "stray"}, code: 2, stderr: `unexpected argument "stray"`},
		{args: []string{"broker", "-log-level", "loud"}, code: 2, stderr: "-log-level"},
		{args: []string{"broker", "-partitions", "0"}, code: 2, stderr: "-partitions"},
		{args: []string{"broker", "-port", "70000"}, code: 2, stderr: "-port"},
	} {
		var stdout, stderr syncBuffer
		code := run(t.Context(), tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) ||
			tc.noStdout && stdout.String() != "" {
			t.Errorf("streams %q: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout with %q, stderr with %q",
				tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}

var listeningRE = regexp.MustCompile(`streams dev broker listening on (127\.0\.0\.1:\d+) \(kcat -b localhost:\d+ -L\)`)

// TestBroker: `streams broker -port 0` says where it listens, answers
// Kafka there with the -topics created with -partitions, and on
// cancellation (what SIGINT and SIGTERM do) stops and exits 0.
func TestBroker(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"broker", "-port", "0", "-topics", "in, out", "-partitions", "2", "-log-level", "warn"}, &stdout, &stderr)
	}()

	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; {
		if m := listeningRE.FindStringSubmatch(stdout.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no listening line in 30s; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		select {
		case code := <-done:
			t.Fatalf("streams broker exited %d early; stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	if !devbroker.Probe(ctx, addr) {
		t.Fatalf("no Kafka broker answers at %s", addr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := kadm.NewClient(cl).ListTopics(ctx)
	cl.Close()
	if err != nil {
		t.Fatalf("ListTopics: %v", err)
	}
	for _, topic := range []string{"in", "out"} {
		if d, ok := ds[topic]; !ok || len(d.Partitions) != 2 {
			t.Errorf("topic %s: %+v, want it with 2 partitions", topic, d)
		}
	}
	if !strings.Contains(stdout.String(), "topics: in, out (2 partitions each)") {
		t.Errorf("stdout does not list the topics:\n%s", stdout.String())
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("streams broker exited %d after cancellation; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("streams broker still running 30s after cancellation")
	}
	if !strings.Contains(stdout.String(), "streams dev broker stopped") {
		t.Errorf("stdout does not say the broker stopped:\n%s", stdout.String())
	}
	if devbroker.Probe(t.Context(), addr) {
		t.Errorf("a broker still answers at %s after exit", addr)
	}
}

// TestBrokerPortTaken: when a broker already answers on -port, `streams
// broker` exits 1 and says so, naming the address and the way out.
func TestBrokerPortTaken(t *testing.T) {
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, port, _ := net.SplitHostPort(b.Addr())
	var stdout, stderr syncBuffer
	code := run(t.Context(), []string{"broker", "-port", port}, &stdout, &stderr)
	want := "A streams development broker already answers at " + b.Addr()
	if code != 1 || !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "-port") {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr.String(), want)
	}
}
