package engine

import (
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/streams-dev/streams/localrunner/internal/kafkasource"
)

// Hooks observe a run. They are called on the engine's owner goroutine, in
// order: they must return quickly and must not block on the run.
type Hooks struct {
	// BundleDone is called after each bundle, failed ones included.
	BundleDone func(BundleEvent)
	// WatermarkAdvanced is called when a stage's output watermark moves.
	WatermarkAdvanced func(WatermarkEvent)
	// Finalized is called after a bundle's finalization callbacks ran.
	Finalized func(FinalizeEvent)

	// KafkaReport is called by each native Kafka source, on its own
	// goroutine, about once a second and when its assignment changes.
	KafkaReport func(KafkaReport)
	// KafkaCommitted is called after each offset commit of a native Kafka
	// source, on the goroutine that committed.
	KafkaCommitted func(KafkaCommitEvent)

	// Checkpointed is called after each checkpoint of a durable run.
	Checkpointed func(CheckpointEvent)
	// Held is called, when no bundle runs and it changed, with what the
	// run holds in windows, user state and timers.
	Held func(HeldReport)
}

// CheckpointEvent describes a checkpoint of a durable run.
type CheckpointEvent struct {
	// Wait is how long the run took to become quiet (no new source
	// records, no bundle or grouping task in flight); Write the time to
	// write and sync.
	Wait, Write time.Duration
	// Since is the time since the previous checkpoint ended (since the
	// run started, for the first): the interval achieved.
	Since time.Duration
	// Queued is the number of elements queued between stages that the
	// checkpoint saved.
	Queued int
	// Bytes is the size of the batch written; DiskBytes the state's size
	// on disk after it.
	Bytes     int
	DiskBytes uint64
	// Err is set when the checkpoint failed (the run then fails).
	Err error
}

// Kafka source events; see package kafkasource.
type (
	KafkaReport          = kafkasource.Report
	KafkaPartitionReport = kafkasource.PartitionReport
	KafkaCommitEvent     = kafkasource.CommitEvent
)

// BundleEvent describes a finished bundle.
type BundleEvent struct {
	Stage      string
	Transforms []string // unique names
	Bundle     string
	Elements   int // input elements
	Outputs    int // elements written to other stages
	Residuals  []ResidualEvent
	// Dropped is the number of input elements a GroupByKey dropped as late
	// beyond the allowed lateness of their window.
	Dropped int
	// Timers is the number of fired timers the bundle delivered.
	Timers  int
	Elapsed time.Duration
	Err     error
}

// ResidualEvent describes one SDF checkpoint.
type ResidualEvent struct {
	// Delay is the ResumeProcessingIn the DoFn asked for.
	Delay time.Duration
	// Watermark holds the stage's output watermark until the residual runs.
	Watermark mtime.Time
	// Reported is set when Watermark came from the SDF's watermark
	// estimator (DelayedBundleApplication.output_watermarks).
	Reported bool
}

// WatermarkEvent reports a stage's new output watermark.
type WatermarkEvent struct {
	Stage      string
	Transforms []string
	Watermark  mtime.Time
}

// FinalizeEvent reports a bundle's finalization.
type FinalizeEvent struct {
	Stage  string
	Bundle string
	Err    error
}

func (e *engine) hookBundle(ev BundleEvent) {
	if h := e.cfg.Hooks.BundleDone; h != nil {
		h(ev)
	}
}
