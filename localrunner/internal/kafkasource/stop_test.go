package kafkasource

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// logBuffer is a bytes.Buffer that a source logs to while a test reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is a source over a kfake topic of 4 partitions holding n
// records, whose every batch is acknowledged as soon as it is handed on.
type harness struct {
	cluster *kfake.Cluster
	src     *Source
	log     logBuffer
	acked   chan int // records of each acknowledged batch

	mu      sync.Mutex
	reports []Report
}

func newHarness(t *testing.T, n int, opts ...kgo.Opt) *harness {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "in"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: "in", Partition: int32(i % 4), Value: fmt.Appendf(nil, "r%d", i)})
	}
	if err := cl.ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	return newSource(t, addr, &harness{cluster: c, acked: make(chan int, n)}, opts...)
}

// newSource returns a harness like h (same cluster, same acked capacity)
// with a new source of group g reading topic "in" at addr.
func newSource(t *testing.T, addr string, h *harness, opts ...kgo.Opt) *harness {
	t.Helper()
	h = &harness{cluster: h.cluster, acked: make(chan int, cap(h.acked))}
	recordCoder := coder.LookupCustomCoder(reflect.TypeFor[kafka.Record]())
	if recordCoder == nil {
		t.Fatal("no coder registered for kafka.Record")
	}
	var err error
	h.src, err = New(Config{
		Read: &plan.KafkaRead{
			Config: kafka.ReadConfig{Client: kafka.ClientConfig{Brokers: []string{addr}}, Topics: []string{"in"},
				Group: "g", StartOffset: kafka.StartEarliest, IdleDelay: time.Second},
			Coder: coder.NewW(coder.CoderFrom(recordCoder), coder.NewGlobalWindow()),
		},
		MaxBatch:           100,
		CommitInterval:     time.Hour, // only the final commit commits
		CommitRecords:      1 << 30,
		MaxInflightRecords: 1 << 20,
		MaxInflightBytes:   1 << 30,
		RevokeTimeout:      time.Second,
		ClientOpts:         opts,
		Logger:             slog.New(slog.NewTextHandler(&h.log, nil)),
		Report: func(r Report) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.reports = append(h.reports, r)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// run runs the source until ctx ends and returns its error on the
// channel.
func (h *harness) run(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- h.src.Run(ctx, func(ev Event) bool {
			if ev.Batch != nil {
				ev.Batch.Ack()
				h.acked <- len(ev.Batch.Ends)
			}
			return true
		}, finished)
		close(finished)
	}()
	return done
}

// waitAcked waits until n records have been acknowledged.
func (h *harness) waitAcked(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for got := 0; got < n; {
		select {
		case k := <-h.acked:
			got += k
		case <-timeout:
			t.Fatalf("%d of %d records handed on after 30s; log:\n%s", got, n, h.log.String())
		}
	}
}

func (h *harness) lastReport() Report {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.reports) == 0 {
		return Report{}
	}
	return h.reports[len(h.reports)-1]
}

func wait(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run has not returned 60s after cancellation")
	}
}

// TestCommittedReportedAfterFinalCommit: the source processes N records
// and stops; its last report (what streams_source_committed_offset
// shows) sums to N over the partitions: the final commit is reported.
func TestCommittedReportedAfterFinalCommit(t *testing.T) {
	const n = 1000
	h := newHarness(t, n)
	ctx, cancel := context.WithCancel(t.Context())
	done := h.run(ctx)
	h.waitAcked(t, n)
	cancel()
	wait(t, done)
	r := h.lastReport()
	sum := int64(0)
	for _, p := range r.Partitions {
		sum += max(p.Committed, 0)
	}
	if sum != n || len(r.Partitions) != 4 {
		t.Errorf("last report: committed offsets sum to %d over %d partitions, want %d over 4: %+v\nlog:\n%s", sum, len(r.Partitions), n, r.Partitions, h.log.String())
	}

	// A new member of the group, with nothing left to read, reports the
	// group's committed offsets before it commits anything itself.
	h2 := newSource(t, h.cluster.ListenAddrs()[0], h)
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	done = h2.run(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for sum = 0; sum != n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a restarted member's reports sum to %d, want %d: %+v", sum, n, h2.lastReport().Partitions)
		}
		sum = 0
		for _, p := range h2.lastReport().Partitions {
			sum += max(p.Committed, 0)
		}
	}
	cancel()
	wait(t, done)
}

// TestStopReportsFailedCommit: the broker goes down before the source
// stops, so the final commit cannot be made (and the group session is
// lost). The stop must say that the offsets were not committed, name the
// partitions and the processed positions, and never claim they were
// committed.
func TestStopReportsFailedCommit(t *testing.T) {
	const n = 400
	for _, lost := range []bool{false, true} {
		t.Run(fmt.Sprintf("lost=%v", lost), func(t *testing.T) {
			h := newHarness(t, n, kgo.RetryTimeout(time.Second), kgo.RequestRetries(2))
			ctx, cancel := context.WithCancel(t.Context())
			done := h.run(ctx)
			h.waitAcked(t, n)
			h.cluster.Close()
			if lost {
				deadline := time.Now().Add(30 * time.Second)
				for !strings.Contains(h.log.String(), "kafka partitions lost") {
					if time.Now().After(deadline) {
						t.Fatalf("partitions not lost 30s after the broker stopped:\n%s", h.log.String())
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			cancel()
			wait(t, done)
			log := h.log.String()
			if strings.Contains(log, "offsets of every processed record committed") {
				t.Errorf("the stop claims the offsets were committed:\n%s", log)
			}
			for _, want := range []string{"NOT committed", "in/0 processed=100", "in/3 processed=100"} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}
