package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/beamtranslate"
	"github.com/streams-dev/streams/io/kafka"
	"github.com/streams-dev/streams/localrunner"
)

// ensureTopics creates the topics the pipeline uses on a development
// broker, so nothing depends on auto-creation.
func ensureTopics(ctx context.Context, cc kafka.ClientConfig, topics []string) error {
	opts, err := cc.Options()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, -1, -1, nil, dedup(topics)...)
	if err != nil {
		return fmt.Errorf("runner: create topics: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("runner: create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

func dedup(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// devSession feeds input, prints output and decides when a run is done.
type devSession struct {
	opts    *DevOptions
	d       *deployment
	log     *slog.Logger
	cl      *kgo.Client // produces input, consumes output
	adm     *kadm.Client
	outputs []string

	// keepsState is set when the run's state outlives it (a state
	// directory that is not temporary): what it holds at exit is emitted
	// by a later run.
	keepsState bool

	mu       sync.Mutex
	err      error
	lastSeen time.Time
	seen     int
	held     *localrunner.HeldReport // last report of the bundled runner; nil before one
	// reads are the topics each consumer group of the bundled runner
	// reads, as its Kafka reports name them: the source's, and those of
	// the internal topics of shuffles and segments.
	reads map[string]map[string]bool
	// inputEnded is closed once the input is fed, with ExitWhenDone: the
	// bundled runner then closes every window once it has read it all.
	inputEnded chan struct{}
}

func startDev(ctx context.Context, opts *DevOptions, d *deployment, log *slog.Logger) (*devSession, error) {
	s := &devSession{opts: opts, d: d, log: log, inputEnded: make(chan struct{}), reads: map[string]map[string]bool{}}
	for _, sb := range d.bindings.Sinks {
		s.outputs = append(s.outputs, sb.Topic)
	}
	if d.bindings.Source.DLQ != nil {
		s.outputs = append(s.outputs, d.bindings.Source.DLQ.Topic)
	}
	s.outputs = dedup(s.outputs)
	sort.Strings(s.outputs)
	base, err := d.bindings.Source.Client.Options()
	if err != nil {
		return nil, err
	}
	// Output printing starts at the current end of each output topic, so
	// it shows what this run writes.
	adm, err := kgo.NewClient(base...)
	if err != nil {
		return nil, err
	}
	s.adm = kadm.NewClient(adm)
	ends, err := s.adm.ListEndOffsets(ctx, s.outputs...)
	if err != nil {
		adm.Close()
		return nil, fmt.Errorf("runner: list output offsets: %w", err)
	}
	start := map[string]map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			log.Warn("output topic not readable; its records will not be printed", "topic", o.Topic, "error", o.Err)
			return
		}
		if start[o.Topic] == nil {
			start[o.Topic] = map[int32]kgo.Offset{}
		}
		start[o.Topic][o.Partition] = kgo.NewOffset().At(o.Offset)
	})
	opts2 := append(base, kgo.ConsumePartitions(start), kgo.DefaultProduceTopic(d.bindings.Source.Topic))
	if s.cl, err = kgo.NewClient(opts2...); err != nil {
		adm.Close()
		return nil, err
	}
	return s, nil
}

func (s *devSession) close() {
	s.cl.Close()
	s.adm.Close()
}

func (s *devSession) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *devSession) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// run feeds the input, prints the output, and with ExitWhenDone cancels
// the run once the input is processed.
func (s *devSession) run(ctx context.Context, stop context.CancelFunc) {
	var wg sync.WaitGroup
	wg.Go(func() { s.print(ctx) })
	defer wg.Wait()
	if len(s.opts.Input) > 0 {
		for _, line := range s.opts.Input {
			s.cl.Produce(ctx, &kgo.Record{Value: line}, func(_ *kgo.Record, err error) {
				if err != nil && ctx.Err() == nil {
					s.fail(fmt.Errorf("runner: feed input: %w", err))
				}
			})
		}
		if err := s.cl.Flush(ctx); err != nil && ctx.Err() == nil {
			s.fail(fmt.Errorf("runner: feed input: %w", err))
			stop()
			return
		}
		s.log.Info("fed input", "records", len(s.opts.Input), "topic", s.d.bindings.Source.Topic)
	}
	if !s.opts.ExitWhenDone {
		return
	}
	close(s.inputEnded)
	timeout := s.opts.Timeout
	if timeout == 0 {
		timeout = time.Minute
	}
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			s.fail(fmt.Errorf("runner: input not processed within %v", timeout))
			stop()
			return
		}
		if s.caughtUp(ctx) {
			s.mu.Lock()
			quiet := time.Since(s.lastSeen) > 500*time.Millisecond
			held := s.held
			s.mu.Unlock()
			if quiet && !s.flushDue(held, deadline) {
				s.logStop(held)
				stop()
				return
			}
		}
	}
}

// caughtUp reports whether the source's consumer group has committed the
// end of every source partition, and every other group the bundled
// runner reads with (a shuffle's or a segment's internal topic) the end of
// its topics: a shuffled Reduce's source commits its records once they
// are in the internal topic, before its windows have them.
func (s *devSession) caughtUp(ctx context.Context) bool {
	src := s.d.bindings.Source
	if !s.groupCaughtUp(ctx, src.Group, []string{src.Topic}) {
		return false
	}
	s.mu.Lock()
	reads := map[string][]string{}
	for g, ts := range s.reads {
		for t := range ts {
			reads[g] = append(reads[g], t)
		}
	}
	s.mu.Unlock()
	for g, topics := range reads {
		if g != src.Group && !s.groupCaughtUp(ctx, g, topics) {
			return false
		}
	}
	return true
}

// groupCaughtUp reports whether group has committed the end of every
// non-empty partition of topics.
func (s *devSession) groupCaughtUp(ctx context.Context, group string, topics []string) bool {
	ends, err := s.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return false
	}
	committed, err := s.adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	done := true
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			done = false
			return
		}
		if o.Offset == 0 {
			return
		}
		c, ok := committed.Lookup(o.Topic, o.Partition)
		if !ok || c.At < o.Offset {
			done = false
		}
	})
	return done
}

// onKafkaReport notes the topics a consumer group of the bundled runner
// reads (its KafkaReport hook).
func (s *devSession) onKafkaReport(r localrunner.KafkaReport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.reads[r.Group]
	if ts == nil {
		ts = map[string]bool{}
		s.reads[r.Group] = ts
	}
	for _, p := range r.Partitions {
		ts[p.Topic] = true
	}
}

func (s *devSession) print(ctx context.Context) {
	for {
		fs := s.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			s.log.Warn("reading output", "topic", t, "partition", p, "error", err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			s.mu.Lock()
			s.seen++
			s.lastSeen = time.Now()
			s.mu.Unlock()
			if s.opts.Output == nil {
				return
			}
			line := fmt.Sprintf("%s: %s", r.Topic, r.Value)
			for _, h := range r.Headers {
				if strings.HasPrefix(h.Key, beamtranslate.HeaderDLQPrefix) {
					line += fmt.Sprintf(" [%s=%s]", h.Key, h.Value)
				}
			}
			fmt.Fprintln(s.opts.Output, line)
		})
	}
}
