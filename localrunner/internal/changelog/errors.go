package changelog

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is what Append returns once Close has begun.
	ErrClosed = errors.New("changelog: writer closed")
	// ErrTooFewPartitions means a changelog topic has fewer partitions
	// than there are tasks: some tasks would have no changelog.
	ErrTooFewPartitions = errors.New("changelog: too few partitions")
	// ErrNotCompacted means a changelog topic's cleanup.policy is not
	// compact only: retention would delete state no newer record replaces.
	ErrNotCompacted = errors.New("changelog: cleanup.policy is not compact")
	// ErrCorrupt means a changelog record is not what a Writer writes.
	ErrCorrupt = errors.New("changelog: corrupt record")
	// ErrWrongPartition means a record was produced to another partition
	// than the one asked for: the client's partitioner is not manual for
	// the changelog topic.
	ErrWrongPartition = errors.New("changelog: record produced to the wrong partition")
)

// AppendError is how an Append reports a failed checkpoint to its done
// function.
type AppendError struct {
	Topic     string
	Partition int32
	Epoch     uint64
	Err       error
}

func (e *AppendError) Error() string {
	return fmt.Sprintf("changelog: append of epoch %d to %s[%d]: %v", e.Epoch, e.Topic, e.Partition, e.Err)
}

func (e *AppendError) Unwrap() error { return e.Err }
