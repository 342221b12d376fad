package observe

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// DefaultStallTimeout is how long work may wait without progress before
// the pipeline is reported unhealthy.
const DefaultStallTimeout = 60 * time.Second

// Health tracks whether a pipeline is alive (its processing loop makes
// progress, or is idle with nothing to do) and ready (running, broker
// reachable, partitions assigned). Its methods are safe for concurrent use.
type Health struct {
	// detailed is set when the runner reports its source loop and
	// in-flight work (the bundled runner); otherwise liveness is only
	// "running and not failed".
	detailed bool
	now      func() time.Time

	mu           sync.Mutex
	stallTimeout time.Duration
	running      bool
	stopping     bool
	failed       bool
	failedAt     string    // where, for the reason served
	lastProgress time.Time // a bundle with elements finished, or a commit
	lastTurn     time.Time // the source loop turned
	inflight     int       // records handed on and not finished, all sources
	partitions   int       // assigned partitions of all sources, -1 unknown
	// sources are the last report of each source (consumer group): a
	// pipeline with a shuffle or a segment reads internal topics too.
	sources   map[string]sourceTurn
	brokerErr error
	brokerAt  time.Time // last broker check; zero: never checked
}

// NewHealth returns a tracker. detailed says whether the runner reports
// source loop turns and in-flight records (see SourceTurned).
func NewHealth(detailed bool) *Health {
	return &Health{detailed: detailed, now: time.Now, stallTimeout: DefaultStallTimeout, partitions: -1}
}

// SetStallTimeout sets how long work in flight may go without progress.
func (h *Health) SetStallTimeout(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stallTimeout = d
}

// Started marks the pipeline running.
func (h *Health) Started() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running = true
	now := h.now()
	h.lastProgress, h.lastTurn = now, now
}

// Stopping marks a clean stop under way: not ready any more.
func (h *Health) Stopping() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopping = true
}

// Failed marks the pipeline failed: neither alive nor ready. where, if
// not empty, says where it failed ("step parse, message events/3 offset
// 42"); the failure's text is not served, since an error may quote the
// message it is about: it is in the process's log (and in Sentry).
func (h *Health) Failed(where string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed, h.failedAt = true, where
	h.running = false
}

// Progress records that work was finished.
func (h *Health) Progress() {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.lastProgress = h.now()
	h.mu.Unlock()
}

// SourceTurned records a turn of the loop of the source of consumer group
// group, with the records in flight and the partitions assigned after it.
// The pipeline's figures are the sums over its sources.
func (h *Health) SourceTurned(group string, inflight, partitions int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastTurn = h.now()
	if h.sources == nil {
		h.sources = map[string]sourceTurn{}
	}
	h.sources[group] = sourceTurn{inflight, partitions}
	h.inflight, h.partitions = 0, 0
	for _, s := range h.sources {
		h.inflight += s.inflight
		h.partitions += s.partitions
	}
}

// sourceTurn is what a source reported last.
type sourceTurn struct{ inflight, partitions int }

// Broker records the result of a broker check (nil: reachable).
func (h *Health) Broker(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.brokerErr = err
	h.brokerAt = h.now()
}

// Live says whether the pipeline is alive, and why not.
func (h *Health) Live() (bool, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var why []string
	switch {
	case h.failed && h.failedAt != "":
		why = append(why, "pipeline failed at "+h.failedAt+"; the cause is in the log")
	case h.failed:
		why = append(why, "pipeline failed; the cause is in the log")
	case !h.running:
		why = append(why, "pipeline not running")
	case h.detailed:
		now := h.now()
		if d := now.Sub(h.lastTurn); d > h.stallTimeout {
			why = append(why, fmt.Sprintf("the Kafka source's loop has not turned for %s", d.Round(time.Second)))
		}
		if d := now.Sub(h.lastProgress); h.inflight > 0 && d > h.stallTimeout {
			why = append(why, fmt.Sprintf("%d records in flight and no bundle finished for %s", h.inflight, d.Round(time.Second)))
		}
	}
	return len(why) == 0, why
}

// Ready says whether the pipeline is ready to do its work, and why not.
func (h *Health) Ready() (bool, []string) {
	live, why := h.Live()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopping {
		why = append(why, "shutting down")
	}
	switch {
	case h.brokerAt.IsZero():
		why = append(why, "Kafka broker not checked yet")
	case h.brokerErr != nil:
		why = append(why, "Kafka broker unreachable: "+h.brokerErr.Error())
	}
	if h.detailed && h.running && h.partitions == 0 {
		why = append(why, "no partitions assigned to this process")
	}
	return live && len(why) == 0, why
}

// TouchLoop touches file about once a second while the pipeline is alive,
// as Sentry Streams' write_healthcheck does with /tmp/health.txt, until
// stop is closed.
func (h *Health) TouchLoop(file string, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if ok, _ := h.Live(); ok {
			now := time.Now()
			if err := os.Chtimes(file, now, now); err != nil {
				if f, err := os.Create(file); err == nil {
					_ = f.Close()
				}
			}
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
