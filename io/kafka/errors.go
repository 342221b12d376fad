package kafka

import (
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
)

var (
	// ErrInvalidConfig is matched, with errors.Is, by every configuration
	// problem [TryRead] and [TryWrite] report. They report all problems at
	// once, joined.
	ErrInvalidConfig = errors.New("kafka: invalid config")

	// ErrNoCommittedOffset is the cause of the read failing at start when
	// [ReadConfig.StartOffset] is "error" and the group has no usable
	// committed offset for a partition.
	ErrNoCommittedOffset = errors.New("kafka: no committed offset")

	// ErrOffsetOutOfRange is the cause of the read failing when a
	// partition's committed offset, or its position while reading, is
	// outside the partition's log (its records were deleted, or the topic
	// was recreated) and the read may not reset it:
	// [ReadConfig.StrictOffsetReset] is set, or StartOffset is "error".
	ErrOffsetOutOfRange = errors.New("kafka: offset out of range (records deleted or topic recreated) and the read may not reset it")

	// ErrNoTopic is the cause of a write failing on a record that names no
	// topic when [WriteConfig.Topic] is empty too.
	ErrNoTopic = errors.New("kafka: record has no topic and the write has no default topic")

	// ErrNoExactlyOnce fails a read or a write that asks for exactly-once
	// delivery (ReadConfig.ExactlyOnce, WriteConfig.Transactional) on a
	// runner that does not provide it: every runner but the bundled one.
	ErrNoExactlyOnce = errors.New("kafka: exactly-once delivery needs a runner that commits outputs and offsets in Kafka transactions (the bundled runner); this one does not")
)

// configError is one configuration problem: which field, and what is wrong.
type configError struct {
	field string
	err   error
}

func (e *configError) Error() string {
	return "kafka: invalid config: " + e.field + ": " + strings.TrimPrefix(strings.TrimPrefix(e.err.Error(), "kafka: "), "clientconf: ")
}

func (e *configError) Unwrap() error { return e.err }

func (e *configError) Is(target error) bool { return target == ErrInvalidConfig }

func invalid(field, format string, args ...any) error {
	return &configError{field: field, err: fmt.Errorf(format, args...)}
}

// PartitionError is a failure about one topic-partition, carried out of the
// read and the write so that the pipeline's failure says where it happened.
// Unwrap gives the cause (a franz-go or kerr error, [ErrNoCommittedOffset],
// [ErrNoTopic], a context error...).
type PartitionError struct {
	// Op is what failed: "list" (listing partitions and start offsets),
	// "read", "commit" or "produce".
	Op string
	// Topic is the topic concerned, possibly empty for "produce" with
	// [ErrNoTopic].
	Topic string
	// Partition is the partition, or -1 when unknown (a record that failed
	// before the producer chose a partition, a topic that does not exist).
	Partition int32
	// Offset is the offset concerned, or -1 when unknown.
	Offset int64
	// Err is the cause.
	Err error
}

func (e *PartitionError) Error() string {
	var b strings.Builder
	b.WriteString("kafka: ")
	b.WriteString(e.Op)
	if e.Topic != "" {
		fmt.Fprintf(&b, " %s", e.Topic)
		if e.Partition >= 0 {
			fmt.Fprintf(&b, "[%d]", e.Partition)
		}
		if e.Offset >= 0 {
			fmt.Fprintf(&b, "@%d", e.Offset)
		}
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimPrefix(e.Err.Error(), "kafka: "))
	return b.String()
}

func (e *PartitionError) Unwrap() error { return e.Err }

// OffsetError marks a fetch error of franz-go's with [ErrOffsetOutOfRange]
// when it is OFFSET_OUT_OF_RANGE, which franz-go returns only where the
// read may not reset a position (kgo.NoResetOffset); other errors are
// returned as they are. For runners that read natively (see
// [ReadTransformConfig]).
func OffsetError(err error) error {
	if errors.Is(err, kerr.OffsetOutOfRange) && !errors.Is(err, ErrOffsetOutOfRange) {
		return fmt.Errorf("%w: %w", ErrOffsetOutOfRange, err)
	}
	return err
}
