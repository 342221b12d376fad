package devbroker

import (
	"bytes"
	"context"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/streams-dev/streams/internal/testtool"
)

// kcat runs kcat against addr with stdin and returns its stdout, failing the
// test, with kcat's stderr, if it fails.
func kcat(t *testing.T, addr, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kcat", append([]string{"-b", addr}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// lines returns out's non-empty lines sorted.
func lines(out string) []string {
	ls := strings.FieldsFunc(out, func(r rune) bool { return r == '\n' })
	slices.Sort(ls)
	return ls
}

// TestKcat proves the broker works with a client nobody here wrote: Debian's
// kcat, on librdkafka. kcat lists the broker and topic, produces keyed
// records, reads them back, produces to a topic that does not exist yet
// (auto-created), and consumes in a consumer group whose commits the broker
// keeps, so that the group's second run reads only what came after.
func TestKcat(t *testing.T) {
	testtool.Path(t, "kcat", "kcat") // skipped without it; under CI, failed
	b := start(t, Topics("events"))
	addr := b.Addr()

	meta := kcat(t, addr, "", "-L", "-t", "events")
	if !strings.Contains(meta, `topic "events" with 4 partitions`) || !strings.Contains(meta, "at "+addr) {
		t.Fatalf("kcat -L printed:\n%s\nwant the broker at %s and topic events with 4 partitions", meta, addr)
	}

	in := []string{"k1:{\"type\": \"event\", \"n\": 1}", "k2:{\"n\": 2}", "k3:{\"n\": 3}", "k4:four", "k5:five"}
	kcat(t, addr, strings.Join(in, "\n")+"\n", "-P", "-t", "events", "-K:")
	if got := lines(kcat(t, addr, "", "-C", "-t", "events", "-e", "-q", "-f", `%k:%s\n`)); !slices.Equal(got, in) {
		t.Fatalf("kcat -C read %q, want %q", got, in)
	}

	kcat(t, addr, "new\n", "-P", "-t", "kcat-auto")
	if got := kcat(t, addr, "", "-C", "-t", "kcat-auto", "-e", "-q"); got != "new\n" {
		t.Fatalf("kcat -C of the auto-created topic read %q, want %q", got, "new\n")
	}

	group := func() []string {
		return lines(kcat(t, addr, "", "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", `%k:%s\n`, "-G", "grp", "events"))
	}
	if got := group(); !slices.Equal(got, in) {
		t.Fatalf("kcat -G read %q, want %q", got, in)
	}
	offs, err := kadm.NewClient(client(t, addr)).FetchOffsets(t.Context(), "grp")
	if err != nil {
		t.Fatalf("FetchOffsets: %v", err)
	}
	var committed int64
	offs.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != int64(len(in)) {
		t.Fatalf("kcat's group committed offsets summing to %d, want %d", committed, len(in))
	}
	kcat(t, addr, "k6:six\n", "-P", "-t", "events", "-K:")
	if got := group(); !slices.Equal(got, []string{"k6:six"}) {
		t.Fatalf("second kcat -G run read %q, want only the new record", got)
	}
}
