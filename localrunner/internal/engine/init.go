package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/streams-dev/streams/localrunner/internal/changelog"
	"github.com/streams-dev/streams/localrunner/internal/group"
	"github.com/streams-dev/streams/localrunner/internal/kafkasource"
	"github.com/streams-dev/streams/localrunner/internal/plan"
	"github.com/streams-dev/streams/localrunner/internal/timer"
	"github.com/streams-dev/streams/localrunner/internal/userstate"
	"github.com/streams-dev/streams/localrunner/internal/worker"
	"github.com/twmb/franz-go/pkg/kgo"
)

// initStage readies a plan stage before the run: the consumer of a Kafka
// stage, the state of a GroupByKey or stateful stage (initState), and one
// SDK plan, so that what the SDK cannot execute fails the run up front.
// The copies of a stage kept per task get state of their own when their
// task starts, and share its plans.
func (e *engine) initStage(ctx context.Context, st *stageState) error {
	if st.spec.Kind == plan.KindKafka {
		return e.initSource(st)
	}
	if err := e.initState(ctx, st); err != nil {
		return err
	}
	if st.spec.Kind != plan.KindSDK {
		return nil
	}
	p, err := worker.NewPlan(st.spec)
	if err != nil {
		return err
	}
	st.pool.put(p)
	return nil
}

func (e *engine) initSource(st *stageState) error {
	cfg := e.cfg
	clientOpts := cfg.Kafka.ClientOpts
	syncCuts := st.spec.Kafka.Config.ExactlyOnce && e.durable
	if syncCuts && e.tasking[st.spec.ID] && !cfg.Changelog.Disabled {
		// The changelog's records go through the transactional
		// producer, each to the partition of its task (cuts.go).
		topic := changelogTopic(st.spec.Kafka.Config.Group, st.spec.Names[0])
		clientOpts = append(slices.Clone(clientOpts), kgo.RecordPartitioner(changelog.Partitioner(nil, topic)))
	}
	src, err := kafkasource.New(kafkasource.Config{
		Read:               st.spec.Kafka,
		MaxBatch:           cfg.MaxBundleSize,
		CommitInterval:     cfg.Kafka.CommitInterval,
		CommitRecords:      cfg.Kafka.CommitRecords,
		MaxInflightRecords: cfg.Kafka.MaxInflightRecords,
		MaxInflightBytes:   cfg.Kafka.MaxInflightBytes,
		RevokeTimeout:      cfg.Kafka.RevokeTimeout,
		ClientOpts:         clientOpts,
		SyncCuts:           syncCuts,
		Logger:             e.log.With("stage", st.spec.ID),
		Report:             cfg.Hooks.KafkaReport,
		Committed:          cfg.Hooks.KafkaCommitted,
		Resume:             e.resumeFunc(st),
		Release:            e.releaseFunc(st),
		PurgeInterval:      e.purgeInterval(st),
		ResumeMarks:        e.resumeMarksFunc(st),
		EndOfInput:         cfg.EndOfInput,
	})
	if err != nil {
		return err
	}
	st.src = src
	e.liveSources++
	return nil
}

// initState gives a GroupByKey stage its buffer (and combiner), and a
// stateful stage its user state, key lanes, late filter and timers.
func (e *engine) initState(ctx context.Context, st *stageState) error {
	switch st.spec.Kind {
	case plan.KindGroup:
		return e.initGroup(ctx, st)
	case plan.KindShuffleWrite:
		return e.initShuffleOut(st)
	}
	if st.spec.Kind != plan.KindSDK {
		return nil
	}
	if st.spec.EventTime != nil {
		if st.task != nil {
			st.feed = st.task.src
		} else {
			st.feed = e.feedingSource(st.spec)
		}
	}
	if st.spec.Stateful {
		st.store = userstate.NewExpiring(st.spec.StateWindow, st.spec.StateAllowedLateness)
		n := 1
		if st.spec.StateKey != nil {
			n = max(1, e.cfg.Parallelism)
			st.keyLen = group.KeyLength(st.spec.StateKey)
		}
		st.lanes = make([]lane, n)
		if st.spec.StateWindow != nil {
			st.wdec = exec.MakeWindowDecoder(st.spec.StateWindow)
			if st.spec.StateWindow.Kind != coder.GlobalWindow {
				st.late = &lateFilter{
					dec:      st.wdec,
					enc:      exec.MakeWindowEncoder(st.spec.StateWindow),
					lateness: st.spec.StateAllowedLateness,
				}
			}
		}
	}
	if len(st.spec.Timers) > 0 {
		ts, err := timer.New(st.spec.Timers, group.KeyLength)
		if err != nil {
			return fmt.Errorf("localrunner: %s %v: %w", st.spec.ID, st.spec.Names, err)
		}
		st.timers = ts
	}
	return nil
}

func (e *engine) initGroup(ctx context.Context, st *stageState) error {
	gc := group.Config{Input: st.spec.Group.Coder, Strategy: st.spec.Group.Strategy, KeepDropped: st.spec.Group.Dropped != ""}
	if st.spec.Group.Combine != nil {
		cmb, err := worker.NewCombiner(ctx, st.spec)
		if err != nil {
			return err
		}
		st.cmb, gc.Combiner = cmb, cmb
	}
	buf, err := group.New[*fin](gc)
	if err != nil {
		return fmt.Errorf("localrunner: %s %v: %w", st.spec.ID, st.spec.Names, err)
	}
	st.grp = buf
	return nil
}
