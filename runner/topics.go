package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streams-dev/streams/io/kafka"
)

// topicCheckTimeout bounds the start-up check of the output topics.
const topicCheckTimeout = 30 * time.Second

// The range of a producer's limit franz-go accepts (kafka.WriteConfig).
const (
	minProducerLimit = 512
	maxProducerLimit = 100<<20 - 1<<10
)

// checkOutputs makes sure, before anything is read, that every sink and
// dead-letter topic exists, and sizes each producer for its topic: a
// missing topic would otherwise show up at the first record sent there,
// possibly days later for a dead-letter queue.
func checkOutputs(ctx context.Context, d *deployment, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, topicCheckTimeout)
	defer cancel()
	var errs []error
	names := make([]string, 0, len(d.bindings.Sinks))
	for name := range d.bindings.Sinks {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		sb := d.bindings.Sinks[name]
		limit, err := outputLimit(ctx, sb.Client, sb.Topic, log)
		if err != nil {
			errs = append(errs, fmt.Errorf("runner: sink step %s: %w", name, err))
			continue
		}
		sb.MaxRecordBytes = limit
		d.bindings.Sinks[name] = sb
	}
	if dlq := d.bindings.Source.DLQ; dlq != nil {
		limit, err := outputLimit(ctx, dlq.Client, dlq.Topic, log)
		if err != nil {
			errs = append(errs, fmt.Errorf("runner: source step %s: dead-letter queue: %w", d.sourceStep, err))
		}
		dlq.MaxRecordBytes = limit
	}
	return errors.Join(errs...)
}

// outputLimit returns the most a producer may write to topic in one
// record batch: the client's message.max.bytes (or batch.size) when set,
// else the topic's max.message.bytes. It fails when the topic does not
// exist.
func outputLimit(ctx context.Context, cc kafka.ClientConfig, topic string, log *slog.Logger) (int32, error) {
	opts, err := cc.Options()
	if err != nil {
		return 0, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	rcs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("topic %s: describing its configs: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return 0, fmt.Errorf("topic %q does not exist: create it before starting the pipeline", topic)
	}
	if v, ok := overrideLimit(cc.Properties); ok {
		return v, nil
	}
	if err != nil {
		log.Warn("cannot read the topic's max.message.bytes; the producer keeps its default limit",
			"topic", topic, "limit", kafka.DefaultMaxRecordBytes, "error", err)
		return kafka.DefaultMaxRecordBytes, nil
	}
	for _, c := range rc.Configs {
		if c.Key != "max.message.bytes" || c.Value == nil {
			continue
		}
		if n, err := strconv.ParseInt(*c.Value, 10, 64); err == nil && n > 0 {
			return int32(min(max(n, minProducerLimit), maxProducerLimit)), nil
		}
	}
	return kafka.DefaultMaxRecordBytes, nil
}

// overrideLimit is the producer limit the client properties set, if any
// (Options has validated the values).
func overrideLimit(props map[string]string) (int32, bool) {
	for _, k := range []string{"message.max.bytes", "batch.size"} {
		if v, ok := props[k]; ok {
			if n, err := strconv.ParseInt(v, 10, 32); err == nil {
				return int32(min(max(n, minProducerLimit), maxProducerLimit)), true
			}
		}
	}
	return 0, false
}
