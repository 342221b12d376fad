package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Values of [ReadConfig.StartOffset].
const (
	// StartEarliest starts a partition without a committed offset at its
	// log start offset (the oldest record still kept).
	StartEarliest = "earliest"
	// StartLatest starts a partition without a committed offset at its
	// high-water mark: only records produced after the read starts are
	// seen. This is the default, as in Kafka.
	StartLatest = "latest"
	// StartError fails the read when a partition has no committed offset.
	StartError = "error"
)

// Defaults of the zero [ReadConfig] durations.
const (
	DefaultMaxReadTime = time.Second
	DefaultIdleDelay   = 100 * time.Millisecond
	DefaultMaxSkew     = time.Second
)

// ReadConfig configures [Read].
type ReadConfig struct {
	// Client says how to reach the cluster. Required.
	Client ClientConfig
	// Topics are read whole: every partition they have when the pipeline
	// starts. Required; partitions added later are not picked up until the
	// pipeline restarts.
	Topics []string
	// Group is the consumer group whose committed offsets say where each
	// partition starts, and to which the read commits the offsets whose
	// records the runner has committed as processed (see the package doc,
	// "Delivery semantics"). The read never joins the group: partitions are
	// spread by the runner, not by group rebalancing. Empty means no group:
	// every partition starts per StartOffset and nothing is committed.
	Group string
	// StartOffset says where a partition starts when the group has no
	// committed offset for it, or when the committed offset is outside the
	// partition's log (deleted by retention): [StartEarliest],
	// [StartLatest] or [StartError]. Empty means [StartLatest]. The same
	// policy applies when a partition's position falls off the log while
	// the pipeline runs, unless StrictOffsetReset is set.
	StartOffset string
	// StrictOffsetReset limits StartOffset to partitions without a
	// committed offset: a committed offset outside the partition's log
	// (its records deleted, or the topic recreated), or a position that
	// falls off the log while reading, fails the read with
	// [ErrOffsetOutOfRange] instead of being reset. This is Arroyo's
	// strict offset reset (librdkafka's auto.offset.reset "error" for
	// out-of-range offsets). It needs a Group.
	StrictOffsetReset bool
	// MaxReadTime is how long one call of the reading DoFn reads a
	// partition before it checkpoints itself and hands the rest back to the
	// runner; it bounds bundle duration and so the delay of offset commits
	// and of watermark updates. Zero means [DefaultMaxReadTime].
	MaxReadTime time.Duration
	// IdleDelay is how long the read waits for a partition that has no new
	// record before checkpointing, and how long the runner is asked to wait
	// before resuming it. Zero means [DefaultIdleDelay].
	IdleDelay time.Duration
	// MaxSkew is the lateness the watermark allows for: the watermark of a
	// partition is the newest record timestamp seen minus MaxSkew. A record
	// whose timestamp is more than MaxSkew behind the newest one seen in its
	// partition may be late. Zero means [DefaultMaxSkew].
	MaxSkew time.Duration
	// IdleWallClock makes the watermark of an idle partition (caught up
	// with its high-water mark, nothing new within IdleDelay) follow the
	// current time minus MaxSkew, so that windows close without traffic;
	// a record produced later with an older timestamp is then late. On
	// the bundled runner it is off by default: an idle partition keeps its
	// own time and only stops holding back what reads several partitions
	// (see the package documentation). Runners that read through the
	// splittable DoFn (prism, Flink, Dataflow) know no idleness, so there
	// an idle partition always follows the wall clock.
	IdleWallClock bool
	// ExactlyOnce asks for exactly-once delivery: the read is a
	// transactional member of Group (Kafka's EOS v2) that reads only
	// committed records, and the writes of the pipeline marked
	// WriteConfig.Transactional commit their records in the same
	// transactions as the offsets of the input they came from. Only a
	// runner that reads natively and lends its writes a transactional
	// producer (the bundled runner) can; on any other runner the read
	// fails at start with [ErrNoExactlyOnce]. It needs a Group.
	ExactlyOnce bool `json:",omitempty"`
}

func (c ReadConfig) withDefaults() ReadConfig {
	if c.StartOffset == "" {
		c.StartOffset = StartLatest
	}
	if c.MaxReadTime == 0 {
		c.MaxReadTime = DefaultMaxReadTime
	}
	if c.IdleDelay == 0 {
		c.IdleDelay = DefaultIdleDelay
	}
	if c.MaxSkew == 0 {
		c.MaxSkew = DefaultMaxSkew
	}
	return c
}

// validate returns every problem of a config that withDefaults has filled.
func (c ReadConfig) validate() error {
	var errs []error
	if _, err := c.Client.Options(); err != nil {
		errs = append(errs, &configError{field: "Client", err: err})
	}
	if len(c.Topics) == 0 {
		errs = append(errs, invalid("Topics", "no topic to read"))
	}
	seen := make(map[string]bool, len(c.Topics))
	for _, t := range c.Topics {
		switch {
		case t == "":
			errs = append(errs, invalid("Topics", "empty topic name"))
		case seen[t]:
			errs = append(errs, invalid("Topics", "topic %q listed twice", t))
		}
		seen[t] = true
	}
	switch c.StartOffset {
	case StartEarliest, StartLatest:
	case StartError:
		if c.Group == "" {
			errs = append(errs, invalid("StartOffset", "%q needs a Group", StartError))
		}
	default:
		errs = append(errs, invalid("StartOffset", "want %q, %q or %q, got %q", StartEarliest, StartLatest, StartError, c.StartOffset))
	}
	if c.ExactlyOnce && c.Group == "" {
		errs = append(errs, invalid("ExactlyOnce", "needs a Group: the offsets commit in the group's transactions"))
	}
	if c.StrictOffsetReset && c.Group == "" {
		errs = append(errs, invalid("StrictOffsetReset", "needs a Group: without one there is no committed offset"))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"MaxReadTime", c.MaxReadTime}, {"IdleDelay", c.IdleDelay}, {"MaxSkew", c.MaxSkew}} {
		if d.d < 0 {
			errs = append(errs, invalid(d.name, "negative duration %v", d.d))
		}
	}
	return errors.Join(errs...)
}

// Read reads the topics of cfg from Kafka and returns an unbounded
// PCollection<Record>, each record stamped with its Kafka timestamp as its
// event time.
//
// The transform is Impulse, then a DoFn that lists the topics' partitions
// and their start offsets, then a splittable DoFn that reads one partition
// per element (see the package doc).
//
// Read panics if cfg is invalid, as Beam's own transforms do when a
// pipeline is built wrongly; use [TryRead] to get the error instead.
func Read(s beam.Scope, cfg ReadConfig) beam.PCollection {
	col, err := TryRead(s, cfg)
	if err != nil {
		panic(err)
	}
	return col
}

// TryRead is [Read] returning an error, matching [ErrInvalidConfig], for an
// invalid cfg (every problem at once) instead of panicking. Problems that
// need the cluster (a topic that does not exist, a group without commits
// under [StartError]) surface when the pipeline runs, as a
// [*PartitionError] that fails it.
func TryRead(s beam.Scope, cfg ReadConfig) (beam.PCollection, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return beam.PCollection{}, err
	}
	s = s.Scope("kafka.Read")
	parts, err := beam.TryParDo(s, &listFn{
		Client:            cfg.Client,
		Topics:            slices.Clone(cfg.Topics),
		Group:             cfg.Group,
		StartOffset:       cfg.StartOffset,
		StrictOffsetReset: cfg.StrictOffsetReset,
		ExactlyOnce:       cfg.ExactlyOnce,
	}, beam.Impulse(s))
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("kafka: read: %w", err)
	}
	recs, err := beam.TryParDo(s, &readFn{
		Client:            cfg.Client,
		Group:             cfg.Group,
		StartOffset:       cfg.StartOffset,
		StrictOffsetReset: cfg.StrictOffsetReset,
		MaxReadTime:       cfg.MaxReadTime,
		IdleDelay:         cfg.IdleDelay,
		MaxSkew:           cfg.MaxSkew,
		IdleWallClock:     cfg.IdleWallClock,
	}, parts[0])
	if err != nil {
		return beam.PCollection{}, fmt.Errorf("kafka: read: %w", err)
	}
	return recs[0], nil
}

// partitionDesc is the element of the splittable read: one topic-partition,
// where it starts, and its high-water mark when it was listed (a lower bound
// of the backlog's end, used to size the restriction before any fetch).
type partitionDesc struct {
	Topic     string
	Partition int32
	Start     int64
	End       int64
}

// listFn turns the impulse into one partitionDesc per partition of the
// topics, with the offset the partition starts at: the group's committed
// offset, else the log start or the high-water mark per StartOffset (with
// StrictOffsetReset, only when the group has no committed offset).
type listFn struct {
	Client            ClientConfig
	Topics            []string
	Group             string
	StartOffset       string
	StrictOffsetReset bool `json:",omitempty"`
	ExactlyOnce       bool `json:",omitempty"`
}

// listTimeout bounds the admin requests that list partitions and offsets.
const listTimeout = time.Minute

func (fn *listFn) ProcessElement(ctx context.Context, _ []byte, emit func(partitionDesc)) error {
	if fn.ExactlyOnce {
		return ErrNoExactlyOnce
	}
	opts, err := fn.Client.Options()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka: read: client: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	descs, err := listPartitions(ctx, kadm.NewClient(cl), fn.Topics, fn.Group, startPolicy{fn.StartOffset, fn.StrictOffsetReset})
	if err != nil {
		return err
	}
	for _, d := range descs {
		emit(d)
	}
	return nil
}

// startPolicy is where a partition starts: StartOffset, and whether it
// applies to a committed offset out of range (not when strict).
type startPolicy struct {
	offset string
	strict bool
}

// listPartitions lists the partitions of topics, sorted, with their start
// offsets.
func listPartitions(ctx context.Context, adm *kadm.Client, topics []string, group string, policy startPolicy) ([]partitionDesc, error) {
	listErr := func(topic string, partition int32, err error) error {
		return &PartitionError{Op: "list", Topic: topic, Partition: partition, Offset: -1, Err: err}
	}
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, listErr("", -1, err)
	}
	var errs []error
	for _, t := range topics {
		d, ok := details[t]
		switch {
		case !ok:
			errs = append(errs, listErr(t, -1, kerr.UnknownTopicOrPartition))
		case d.Err != nil:
			errs = append(errs, listErr(t, -1, d.Err))
		case len(d.Partitions) == 0:
			errs = append(errs, listErr(t, -1, errors.New("topic has no partitions")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, listErr("", -1, fmt.Errorf("log start offsets: %w", err))
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, listErr("", -1, fmt.Errorf("end offsets: %w", err))
	}
	var committed kadm.OffsetResponses
	if group != "" {
		// A group that never committed is unknown to some brokers.
		if committed, err = adm.FetchOffsets(ctx, group); err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return nil, listErr("", -1, fmt.Errorf("committed offsets of group %q: %w", group, err))
		}
	}

	var descs []partitionDesc
	for _, t := range topics {
		for _, p := range details[t].Partitions.Numbers() {
			lo, lok := starts.Lookup(t, p)
			hi, hok := ends.Lookup(t, p)
			switch {
			case !lok || !hok:
				errs = append(errs, listErr(t, p, errors.New("no log start or end offset listed")))
				continue
			case lo.Err != nil:
				errs = append(errs, listErr(t, p, lo.Err))
				continue
			case hi.Err != nil:
				errs = append(errs, listErr(t, p, hi.Err))
				continue
			}
			d := partitionDesc{Topic: t, Partition: p, End: hi.Offset}
			c, cok := committed.Lookup(t, p)
			if cok && c.Err != nil {
				errs = append(errs, listErr(t, p, fmt.Errorf("committed offset of group %q: %w", group, c.Err)))
				continue
			}
			if cok && c.At >= lo.Offset && c.At <= hi.Offset {
				d.Start = c.At
			} else if cok && c.At >= 0 && policy.strict {
				errs = append(errs, listErr(t, p, fmt.Errorf("%w: committed offset %d of group %q is outside the log [%d, %d]",
					ErrOffsetOutOfRange, c.At, group, lo.Offset, hi.Offset)))
				continue
			} else {
				switch policy.offset {
				case StartEarliest:
					d.Start = lo.Offset
				case StartLatest:
					d.Start = hi.Offset
				default:
					cause := ErrNoCommittedOffset
					if cok && c.At >= 0 {
						cause = fmt.Errorf("%w: committed offset %d is outside the log [%d, %d]", ErrNoCommittedOffset, c.At, lo.Offset, hi.Offset)
					}
					errs = append(errs, listErr(t, p, cause))
					continue
				}
			}
			descs = append(descs, d)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(descs, func(i, j int) bool {
		if descs[i].Topic != descs[j].Topic {
			return descs[i].Topic < descs[j].Topic
		}
		return descs[i].Partition < descs[j].Partition
	})
	return descs, nil
}

// resetOffset is where franz-go restarts a partition whose position falls
// outside its log while reading, per the StartOffset policy; nowhere when
// strict (the partition fails with OffsetOutOfRange).
func resetOffset(policy string, strict bool) kgo.Offset {
	if strict {
		return kgo.NoResetOffset()
	}
	switch policy {
	case StartEarliest:
		return kgo.NewOffset().AtStart()
	case StartError:
		return kgo.NoResetOffset()
	default:
		return kgo.NewOffset().AtEnd()
	}
}
