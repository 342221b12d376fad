package runner

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/config"
	"github.com/streams-dev/streams/devbroker"
	"github.com/streams-dev/streams/internal/childtest"
)

// devBrokerChildPrefix starts a child spec that runs the dev loop with
// the development broker address after the prefix.
const devBrokerChildPrefix = "dev-broker-at:"

// runDevBrokerChild runs the seed pipeline's dev loop (three input lines,
// output printed, exit when done) with DevBrokerAddr addr.
func runDevBrokerChild(addr string) int {
	cfg, err := config.Parse([]byte("pipeline:\n  segments:\n    - steps_config:\n        myinput: {auto_offset_reset: earliest}\n"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err = Run(ctx, seedPipeline().MustBuild(), Options{
		Config:        cfg,
		Name:          "dev",
		DevBrokerAddr: addr,
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Dev: &DevOptions{
			Input:        [][]byte{[]byte(`{"type":"event","n":1}`), []byte(`{"type":"other"}`), []byte(`{"type":"event"}`)},
			Output:       os.Stdout,
			ExitWhenDone: true,
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

var embeddedAtRE = regexp.MustCompile(`EMBEDDED development Kafka broker at (127\.0\.0\.1:\d+)`)

// TestDevBrokerNotForeign: a Kafka that is not a development broker (a
// kfake with its own cluster id) answers at the development broker's
// address. The runner must not use it: it embeds its own broker on a free
// port, says where, and runs the pipeline there; the other Kafka gets no
// topic and no record.
func TestDevBrokerNotForeign(t *testing.T) {
	foreign, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	addr := foreign.ListenAddrs()[0]

	child := childtest.Start(t, devBrokerChildPrefix+addr)
	if !child.Wait(2 * time.Minute) {
		t.Fatal("the dev loop did not stop by itself")
	}
	if code := child.ExitCode(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, child.Stderr())
	}
	got := strings.Split(strings.TrimSpace(child.Stdout()), "\n")
	if len(got) != 2 || got[0] != `transformed-events: {"type":"event"}` || got[1] != got[0] {
		t.Errorf("output:\n%s", child.Stdout())
	}
	m := embeddedAtRE.FindStringSubmatch(child.Stderr())
	if m == nil || m[1] == addr {
		t.Errorf("no embedded broker announced on another address than %s:\n%s", addr, child.Stderr())
	}
	if !strings.Contains(child.Stderr(), "not a streams development broker") {
		t.Errorf("the foreign broker is not reported:\n%s", child.Stderr())
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if names := topics.Names(); len(names) > 0 {
		t.Errorf("the foreign broker got topics %v", names)
	}
}

// TestDevBrokerReused: a development broker (`streams broker`) already
// at the address is used, not a new one.
func TestDevBrokerReused(t *testing.T) {
	b, err := devbroker.Start(devbroker.ListenAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	child := childtest.Start(t, devBrokerChildPrefix+b.Addr())
	if !child.Wait(2 * time.Minute) {
		t.Fatal("the dev loop did not stop by itself")
	}
	if code := child.ExitCode(); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, child.Stderr())
	}
	if !strings.Contains(child.Stderr(), "using the development broker already running at "+b.Addr()) {
		t.Errorf("the running development broker was not used:\n%s", child.Stderr())
	}
	if strings.Count(child.Stdout(), "transformed-events: ") != 2 {
		t.Errorf("output:\n%s", child.Stdout())
	}
}

// TestDevBrokerFlag: --dev-broker sets the development broker address,
// $STREAMS_DEV_BROKER gives its default.
func TestDevBrokerFlag(t *testing.T) {
	t.Setenv("STREAMS_DEV_BROKER", "127.0.0.1:19092")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "127.0.0.1:19092"},
		{[]string{"--dev-broker", "localhost:29092"}, "localhost:29092"},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		f := defineFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if f.devBroker != tc.want {
			t.Errorf("%v: dev broker %q, want %q", tc.args, f.devBroker, tc.want)
		}
	}
}
