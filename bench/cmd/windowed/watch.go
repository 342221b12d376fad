package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/bench/internal/harness"
	"github.com/streams-dev/streams/bench/internal/window"
)

// arrival is the first time a result was read from the output topic.
type arrival struct {
	at    time.Time
	end   time.Time
	value window.Stats
}

// watcher reads a pipeline's output topic from the start while the
// pipeline runs, noting when each result first arrives and comparing it
// with the expected results it is given.
type watcher struct {
	cl       *kgo.Client
	brokers  []string
	done     chan struct{}
	stopOnce sync.Once

	mu        sync.Mutex
	want      window.Expected
	seen      map[window.ID]arrival
	matched   int   // results of want seen with the expected value
	records   int64 // records read
	dups      int64 // repeats with the first arrival's value
	conflicts int64 // repeats with another value
	undecoded int64
	err       error // the first undecodable record
}

// watch starts reading topic, with isolation.level=read_committed: a
// result of an exactly-once run arrives when its transaction commits
// (an at-least-once run's, written outside transactions, when written).
func watch(brokers []string, topic string) (*watcher, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return nil, err
	}
	w := &watcher{cl: cl, brokers: brokers, done: make(chan struct{}), seen: make(map[window.ID]arrival)}
	go w.loop()
	return w, nil
}

func (w *watcher) loop() {
	defer close(w.done)
	for {
		fs := w.cl.PollFetches(context.Background())
		if fs.IsClientClosed() {
			return
		}
		now := time.Now()
		w.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) { w.note(r, now) })
		w.mu.Unlock()
	}
}

// note records r, read at now. Called with mu held.
func (w *watcher) note(r *kgo.Record, now time.Time) {
	w.records++
	id, res, err := window.Decode(r.Value)
	if err != nil {
		if w.undecoded++; w.err == nil {
			w.err = fmt.Errorf("%s[%d]@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		return
	}
	if a, ok := w.seen[id]; ok {
		if a.value == res.Value {
			w.dups++
		} else {
			w.conflicts++
		}
		return
	}
	w.seen[id] = arrival{at: now, end: res.End, value: res.Value}
	if v, ok := w.want[id]; ok && v == res.Value {
		w.matched++
	}
}

// expect sets the expected results.
func (w *watcher) expect(want window.Expected) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.want = want
	w.matched = 0
	for id, a := range w.seen {
		if v, ok := want[id]; ok && v == a.value {
			w.matched++
		}
	}
}

// read is the number of records read so far.
func (w *watcher) read() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.records
}

// complete reports whether every expected result arrived with its value.
func (w *watcher) complete() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.want != nil && w.matched == len(w.want)
}

// catchUp waits, up to limit, until the watcher has read every record
// the topic holds, then stops it.
func (w *watcher) catchUp(ctx context.Context, topic string, limit time.Duration) error {
	defer w.stop()
	// Records the topic holds, without transaction markers.
	n, err := harness.CommittedRecords(ctx, w.brokers, topic)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	for {
		read := w.read()
		if read >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("output %s: read %d of its %d records within %v", topic, read, n, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops reading; it may be called more than once.
func (w *watcher) stop() {
	w.stopOnce.Do(func() {
		w.cl.Close()
		<-w.done
	})
}

// verdict compares the output with the expected results.
type verdict struct {
	expected int
	present  int // expected results that arrived with the expected value
	wrong    int // expected results that arrived with another value
	other    int // results of windows not expected
	records  int64
	dups     int64 // identical repeats
	// conflicts are repeats of a result with another value, undecoded
	// records that are not results.
	conflicts, undecoded int64
	err                  error
	// delays are, for the results present, arrival minus the window's
	// end, sorted.
	delays []time.Duration
}

func (w *watcher) verdict() verdict {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := verdict{expected: len(w.want), records: w.records, dups: w.dups, conflicts: w.conflicts,
		undecoded: w.undecoded, err: w.err}
	for id, a := range w.seen {
		want, ok := w.want[id]
		switch {
		case !ok:
			v.other++
		case want != a.value:
			v.wrong++
		default:
			v.present++
			v.delays = append(v.delays, a.at.Sub(a.end))
		}
	}
	slices.Sort(v.delays)
	return v
}

// missing is the number of expected results that never arrived.
func (v verdict) missing() int { return v.expected - v.present - v.wrong }

// ok reports whether the output is exactly the expected results, with
// identical repeats at most.
func (v verdict) ok() bool {
	return v.present == v.expected && v.wrong == 0 && v.other == 0 && v.conflicts == 0 && v.undecoded == 0
}

// quantile is the q-quantile of the delays (nearest rank).
func (v verdict) quantile(q float64) time.Duration {
	if len(v.delays) == 0 {
		return 0
	}
	i := int(q*float64(len(v.delays))+0.5) - 1
	return v.delays[min(max(i, 0), len(v.delays)-1)]
}

// problems describes what is wrong with the output, or "ok".
func (v verdict) problems() string {
	var ps []string
	if n := v.missing(); n > 0 {
		ps = append(ps, fmt.Sprintf("%d missing", n))
	}
	if v.wrong > 0 {
		ps = append(ps, fmt.Sprintf("%d wrong", v.wrong))
	}
	if v.other > 0 {
		ps = append(ps, fmt.Sprintf("%d unexpected", v.other))
	}
	if v.conflicts > 0 {
		ps = append(ps, fmt.Sprintf("%d conflicting repeats", v.conflicts))
	}
	if v.undecoded > 0 {
		ps = append(ps, fmt.Sprintf("%d undecodable (%v)", v.undecoded, v.err))
	}
	if len(ps) == 0 {
		return "ok"
	}
	return strings.Join(ps, ", ")
}

// liveProblems is problems without the results of windows after the
// expected ones, which the live measurement does not wait for.
func (v verdict) liveProblems() string {
	v.other = 0
	return v.problems()
}
