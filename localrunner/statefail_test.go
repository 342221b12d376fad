package localrunner_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"

	"github.com/streams-dev/streams/localrunner"
	"github.com/streams-dev/streams/state/statetest"
)

// failingStateFS is the operating system's file system whose writes fail
// with errno once arm is called: a disk that fills up, turns read-only or
// fails under a running pipeline.
func failingStateFS(errno syscall.Errno) (fs vfs.FS, arm func()) {
	var armed atomic.Bool
	inj := errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if armed.Load() && op.OpKind() == errorfs.OpKindWrite {
			return &os.PathError{Op: "write", Path: path, Err: errno}
		}
		return nil
	})
	return errorfs.Wrap(vfs.Default, inj), func() { armed.Store(true) }
}

// A state directory that fails under a running durable pipeline (full
// disk, read-only, I/O error) stops the run with an error naming the
// directory and the cause, reports the failed checkpoint (which the
// runner counts in streams_state_checkpoint_failures_total), and commits
// no offset past the last checkpoint written.
func TestStateDiskFailureStopsTheRun(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EROFS, syscall.EIO} {
		t.Run(errno.Error(), func(t *testing.T) { testStateDiskFailure(t, errno) })
	}
}

func testStateDiskFailure(t *testing.T, errno syscall.Errno) {
	c, cl, adm := kafkaCluster(t)
	produce(t, cl, "a", 100)
	dir := t.TempDir()
	fs, arm := failingStateFS(errno)
	var mu sync.Mutex
	var checkpoints, failed int
	hooks := localrunner.Hooks{Checkpointed: func(e localrunner.CheckpointEvent) {
		mu.Lock()
		defer mu.Unlock()
		checkpoints++
		if e.Err != nil {
			failed++
		}
	}}
	r, err := localrunner.New(localrunner.WithHooks(hooks), localrunner.WithMaxBundleSize(16),
		localrunner.WithStateDir(dir, 50*time.Millisecond), localrunner.WithStateFS(fs),
		localrunner.WithKafkaCommit(20*time.Millisecond, 10))
	if err != nil {
		t.Fatal(err)
	}
	key := t.Name()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx, kafkaPipeline(readConfig(c, "g"), 0, key))
		done <- err
	}()
	end := ends(t, adm, "in")
	waitFor(t, "the first records checkpointed and committed", 30*time.Second, func() bool {
		return maps.Equal(commits(ctx, adm, "g"), end)
	})
	arm()
	produce(t, cl, "b", 100)
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the run goes on 30s after its state directory failed")
	}
	t.Logf("Run: %v", runErr)
	if runErr == nil || errors.Is(runErr, context.Canceled) || errors.Is(runErr, context.DeadlineExceeded) {
		t.Fatalf("Run: %v, want the state failure", runErr)
	}
	if !errors.Is(runErr, localrunner.ErrStateFailed) || !errors.Is(runErr, errno) || !strings.Contains(runErr.Error(), dir) {
		t.Errorf("Run: %v, want ErrStateFailed naming %s and %q", runErr, dir, errno)
	}
	mu.Lock()
	if failed != 1 {
		t.Errorf("%d of %d checkpoints reported failed, want 1", failed, checkpoints)
	}
	mu.Unlock()
	if got := commits(context.Background(), adm, "g"); !maps.Equal(got, end) {
		t.Errorf("committed %v after the failure, want %v: the records after the last checkpoint must be read again", got, end)
	}
	takeRecords(key)
}

// A run on a state directory with a corrupt write-ahead log is refused,
// naming the file; WithDiscardCorruptState starts it from empty state,
// reading the topic from the committed offsets (here, the start).
func TestCorruptStateRefusedOrDiscarded(t *testing.T) {
	c, cl, _ := kafkaCluster(t)
	produce(t, cl, "a", 20)
	dir := t.TempDir()
	statetest.CorruptWAL(t, dir)
	key := t.Name()
	r, err := localrunner.New(localrunner.WithStateDir(dir, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a run that starts is not refused
	defer cancel()
	_, err = r.Run(ctx, kafkaPipeline(readConfig(c, "g"), 0, key))
	t.Logf("Run: %v", err)
	if !errors.Is(err, localrunner.ErrStateCorrupt) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Run on a corrupt state directory: %v, want ErrStateCorrupt naming %s", err, dir)
	}
	stop := runUntil(t, kafkaPipeline(readConfig(c, "g"), 0, key),
		localrunner.WithStateDir(dir, 50*time.Millisecond), localrunner.WithDiscardCorruptState(true))
	waitFor(t, "the topic read from the start", 30*time.Second, func() bool { return countRecords(key) >= 20 })
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with WithDiscardCorruptState: %v, want context.Canceled", err)
	}
	takeRecords(key)
}
