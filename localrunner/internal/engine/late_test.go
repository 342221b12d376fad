package engine

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// Late drops are logged at info, at most once every lateLogEvery per
// stage, each line with the drops since the one before.
func TestLateDropsLoggedRateLimited(t *testing.T) {
	e := testEngine(&plan.Stage{ID: "gbk", Kind: plan.KindGroup, Names: []string{"count/GroupByKey"}})
	var buf bytes.Buffer
	e.log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e.metrics = newMetrics(nil)
	s := e.byID["gbk"]
	e.droppedLate(s, 3)
	e.droppedLate(s, 2)
	e.droppedLate(s, 4)
	if n := strings.Count(buf.String(), "late elements dropped"); n != 1 || !strings.Contains(buf.String(), "dropped=3") {
		t.Fatalf("after 3 drops at once: %d lines, want 1 with dropped=3:\n%s", n, buf.String())
	}
	s.lateLog.at = s.lateLog.at.Add(-lateLogEvery - time.Second)
	e.droppedLate(s, 1)
	if n := strings.Count(buf.String(), "late elements dropped"); n != 2 || !strings.Contains(buf.String(), "dropped=7") {
		t.Errorf("a period later: %d lines, want 2, the second with dropped=7 (2+4+1):\n%s", n, buf.String())
	}
}
