package changelog

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// cleanupPolicy is the topic config that must be compact only.
const cleanupPolicy = "cleanup.policy"

// Ensure makes sure topic exists as a changelog for partitions tasks.
// When it is missing, Ensure creates it with partitions partitions,
// replication factor rf (-1: the broker's default), cleanup.policy=compact
// and configs (min.compaction.lag.ms, segment.bytes, ...; a
// cleanup.policy in configs must be compact). When it exists (another
// process may create it first), or when the client may not create topics,
// Ensure checks that it has at least partitions partitions and
// cleanup.policy compact only, and returns an error naming the topic and
// every problem otherwise (ErrTooFewPartitions, ErrNotCompacted): such a
// changelog would lose state. Ensure does not change an existing topic.
//
// adm's metadata cache (kgo.MetadataMinAge) may hide a topic created
// moments ago by another client from the check.
func Ensure(ctx context.Context, adm *kadm.Client, topic string, partitions int32, rf int16, configs map[string]*string) error {
	cfg, err := createConfigs(topic, partitions, configs)
	if err != nil {
		return err
	}
	// Creating first, rather than listing first, keeps a stale "unknown
	// topic" out of kadm's metadata cache, which check reads.
	_, err = adm.CreateTopic(ctx, partitions, rf, cfg, topic)
	if err == nil {
		return nil
	}
	exists := errors.Is(err, kerr.TopicAlreadyExists)
	denied := errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
	if !exists && !denied {
		return fmt.Errorf("changelog: create topic %q: %w", topic, err)
	}
	// It exists, or we may not create topics and it may: check it.
	cerr := check(ctx, adm, topic, partitions)
	if cerr != nil && denied {
		return errors.Join(fmt.Errorf("changelog: create topic %q: %w", topic, err), cerr)
	}
	return cerr
}

// createConfigs checks Ensure's arguments and returns the configs to
// create the topic with.
func createConfigs(topic string, partitions int32, configs map[string]*string) (map[string]*string, error) {
	var errs []error
	if topic == "" {
		errs = append(errs, errors.New("changelog: ensure: empty topic"))
	}
	if partitions <= 0 {
		errs = append(errs, fmt.Errorf("changelog: ensure %q: %d partitions", topic, partitions))
	}
	cfg := maps.Clone(configs)
	if cfg == nil {
		cfg = make(map[string]*string)
	}
	if v, ok := cfg[cleanupPolicy]; ok && (v == nil || !compactOnly(*v)) {
		errs = append(errs, fmt.Errorf("changelog: ensure %q: configs set %s=%s: %w", topic, cleanupPolicy, deref(v), ErrNotCompacted))
	}
	compact := "compact"
	cfg[cleanupPolicy] = &compact
	return cfg, errors.Join(errs...)
}

// check returns every reason the existing topic is no changelog for
// partitions tasks.
func check(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	tds, err := adm.ListTopics(ctx, topic)
	if err == nil {
		err = tds[topic].Err
	}
	if err != nil {
		return fmt.Errorf("changelog: list topic %q: %w", topic, err)
	}
	policy, err := policyOf(ctx, adm, topic)
	if err != nil {
		return err
	}
	var errs []error
	if n := int32(len(tds[topic].Partitions)); n < partitions {
		errs = append(errs, fmt.Errorf("changelog: topic %q has %d partitions, fewer than the %d tasks: the tasks of partitions %d to %d would have no changelog: %w",
			topic, n, partitions, n, partitions-1, ErrTooFewPartitions))
	}
	if !compactOnly(policy) {
		errs = append(errs, fmt.Errorf("changelog: topic %q has %s=%s, not compact: retention would delete state that no newer record replaces: %w",
			topic, cleanupPolicy, policy, ErrNotCompacted))
	}
	return errors.Join(errs...)
}

// policyOf returns topic's cleanup.policy; Kafka's default is delete.
func policyOf(ctx context.Context, adm *kadm.Client, topic string) (string, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return "", fmt.Errorf("changelog: describe configs of %q: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		return "", fmt.Errorf("changelog: describe configs of %q: %w", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key == cleanupPolicy && c.Value != nil {
			return *c.Value, nil
		}
	}
	return "delete", nil
}

// compactOnly reports whether a cleanup.policy value compacts and never
// deletes by retention.
func compactOnly(policy string) bool {
	var compact bool
	for p := range strings.SplitSeq(policy, ",") {
		switch strings.TrimSpace(p) {
		case "compact":
			compact = true
		default:
			return false
		}
	}
	return compact
}

func deref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

// End returns the end offset (the high watermark) of partition of topic,
// to tell whether a local store that recorded the end after its last
// checkpoint is current.
func End(ctx context.Context, adm *kadm.Client, topic string, partition int32) (int64, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		var end int64
		if end, err = offsetOf(ends, topic, partition); err == nil {
			return end, nil
		}
	}
	return 0, fmt.Errorf("changelog: end offset of %s[%d]: %w", topic, partition, err)
}

// offsetOf returns the listed offset of partition of topic.
func offsetOf(l kadm.ListedOffsets, topic string, partition int32) (int64, error) {
	if o, ok := l.Lookup(topic, -1); ok && o.Err != nil {
		return 0, o.Err // the topic does not exist
	}
	o, ok := l.Lookup(topic, partition)
	switch {
	case !ok:
		return 0, fmt.Errorf("no partition %d: %w", partition, kerr.UnknownTopicOrPartition)
	case o.Err != nil:
		return 0, o.Err
	}
	return o.Offset, nil
}
