package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/shuffle"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The internal topics of a run's shuffles and segments: made sure of at
// start, sized from the pipeline's source topics unless configured, and
// the client the shuffle writers share.

// openShuffles makes sure the internal topic of every shuffle and
// segment the plan writes or reads exists, and opens the client the
// writers share.
func (e *engine) openShuffles(ctx context.Context) error {
	internal := map[string]*plan.KafkaRead{} // internal topic -> the pipeline's source read
	var writers []*plan.Stage
	for _, s := range e.cfg.Plan.Stages {
		switch {
		case s.Kind == plan.KindShuffleWrite:
			writers = append(writers, s)
			internal[s.Shuffle.Topic] = e.cfg.Plan.Stage(s.Shuffle.Source).Kafka.Root()
		case s.Kind == plan.KindKafka && s.Kafka.Shuffle:
			internal[s.Kafka.Config.Topics[0]] = s.Kafka.Root()
		}
	}
	if len(internal) == 0 {
		return nil
	}
	var some *plan.KafkaRead
	for _, o := range internal {
		some = o
	}
	opts, err := some.Config.Client.Options()
	if err != nil {
		return fmt.Errorf("localrunner: shuffle: %w", err)
	}
	opts = append(opts, e.cfg.Kafka.ClientOpts...)
	opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(time.Millisecond))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("localrunner: shuffle: %w", err)
	}
	e.shuf = &shuffles{cl: cl, parts: map[string]int32{}, total: map[string]int{}}
	adm := kadm.NewClient(cl)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, topic := range sortedTopics(internal) {
		if err := e.ensureInternal(cctx, adm, topic, internal[topic]); err != nil {
			return err
		}
	}
	for _, w := range writers {
		src := e.cfg.Plan.Stage(w.Shuffle.Source).Kafka.Config.Topics
		total, _, err := topicPartitions(cctx, adm, src)
		if err != nil {
			return fmt.Errorf("localrunner: shuffle %s: %w", w.Shuffle.Topic, err)
		}
		e.shuf.total[w.Shuffle.Source] = total
	}
	return nil
}

// ensureInternal makes sure an internal topic exists: with the
// configured partitions, or as many as the pipeline's source topics have.
func (e *engine) ensureInternal(ctx context.Context, adm *kadm.Client, topic string, origin *plan.KafkaRead) error {
	_, most, err := topicPartitions(ctx, adm, origin.Config.Topics)
	if err != nil {
		return fmt.Errorf("localrunner: internal topic %s: %w", topic, err)
	}
	want, exact := most, false
	if e.cfg.Shuffle.Partitions > 0 {
		want, exact = e.cfg.Shuffle.Partitions, true
	}
	rf := e.cfg.Shuffle.ReplicationFactor
	if rf == 0 {
		rf = -1
	}
	n, err := shuffle.Ensure(ctx, adm, topic, want, rf, exact)
	if err != nil {
		return fmt.Errorf("localrunner: %w", err)
	}
	e.shuf.parts[topic] = n
	e.log.Info("localrunner: internal topic ready", "topic", topic, "partitions", n)
	return nil
}

// topicPartitions returns how many partitions topics have in all, and
// the most one has.
func topicPartitions(ctx context.Context, adm *kadm.Client, topics []string) (total int, most int32, err error) {
	td, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return 0, 0, err
	}
	for _, t := range topics {
		d := td[t]
		if d.Err != nil {
			return 0, 0, fmt.Errorf("topic %s: %w", t, d.Err)
		}
		total += len(d.Partitions)
		most = max(most, int32(len(d.Partitions)))
	}
	return total, most, nil
}

func sortedTopics(m map[string]*plan.KafkaRead) []string {
	ts := make([]string, 0, len(m))
	for t := range m {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// purgeInterval is a Kafka stage's kafkasource.Config.PurgeInterval:
// only a read of an internal topic purges what it committed.
func (e *engine) purgeInterval(s *stageState) time.Duration {
	if !s.spec.Kafka.Shuffle || e.cfg.Shuffle.PurgeInterval < 0 {
		return 0
	}
	return cmp.Or(e.cfg.Shuffle.PurgeInterval, 30*time.Second)
}

// closeShuffles closes the writers' client: what it did not send fails.
func (e *engine) closeShuffles() {
	if e.shuf != nil {
		e.shuf.cl.Close()
	}
}
