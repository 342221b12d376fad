package conformance_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/conformance"
)

// killLoop is the fault model of the windowed crash tests, shared so that
// they crash their pipelines alike: runs of a pipeline on the bundled
// runner with a state directory (in its spec) are killed with SIGKILL at
// random moments and restarted on the same directory, and then a last run
// must give every window an uncrashed run gives.
//
// There are kills runs, each killed while records move: before each,
// another share of the input arrives (a sixth, for five kills), so every
// run has windows to fill and fire when it is killed, at a random moment
// (up to pause) after its first result; the kill must find input not yet
// committed (open windows hold commits back). The next run starts once the
// killed member left the group (waitGroupEmpty says why).
type killLoop struct {
	cl             *kgo.Client // produces to in
	addr, spec     string
	in, out, group string
	n, kills       int
	pause          time.Duration // in whole milliseconds
	rng            *rand.Rand
	record         func(i int) *kgo.Record // input record i of n
	produced       int                     // input records written
}

// killRuns starts and kills the runs, then writes the rest of the input.
// It returns how many kills landed while records were moving.
func (l *killLoop) killRuns(ctx context.Context, t *testing.T) (landed int) {
	t.Helper()
	adm := kadm.NewClient(l.cl)
	outputs := func() int64 { return endSum(ctx, adm, l.out) }
	for k := range l.kills {
		l.produce(ctx, t, (k+1)*l.n/(l.kills+1))
		child := conformance.StartPipeline(t, l.spec)
		before := outputs()
		for outputs() <= before && !child.Exited() && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(l.rng.IntN(int(l.pause/time.Millisecond))) * time.Millisecond)
		if killWhileMoving(ctx, t, child, adm, l.group, l.in) {
			landed++
		}
		waitGroupEmpty(ctx, t, adm, l.group)
	}
	l.produce(ctx, t, l.n)
	return landed
}

// produce writes the input records not written yet up to record upTo.
func (l *killLoop) produce(ctx context.Context, t *testing.T, upTo int) {
	t.Helper()
	for ; l.produced < upTo; l.produced++ {
		l.cl.Produce(ctx, l.record(l.produced), nil)
	}
	if err := l.cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// lastRun starts the last run and reads the output from its start into
// check until over says that no more results will come, failing t at once
// if the process ends by itself. It returns check's verdict (which fails t
// for wrong results and missing windows), then kills the process.
func (l *killLoop) lastRun(ctx context.Context, t *testing.T, check *windowCheck, over func(last time.Time) bool) string {
	t.Helper()
	child := conformance.StartPipeline(t, l.spec)
	defer child.Stop(t)
	check.read(ctx, t, l.addr, l.out, over, func() error {
		if child.Exited() {
			return fmt.Errorf("the pipeline process ended (exit %d):\n%s", child.ExitCode(), child.Stderr())
		}
		return nil
	})
	return check.verdict(t)
}
