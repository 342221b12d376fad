package beamjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
)

// CancelTimeout bounds the wait for a cancelled job's final state.
const CancelTimeout = time.Minute

// Terminal reports whether a job in state s will not run again.
func Terminal(s jobpb.JobState_Enum) bool {
	switch s {
	case jobpb.JobState_DONE, jobpb.JobState_FAILED, jobpb.JobState_CANCELLED, jobpb.JobState_DRAINED, jobpb.JobState_UPDATED:
		return true
	}
	return false
}

// Follow logs the job's state changes (at info) and messages (at their
// importance) until it ends, and returns its final state. When ctx ends
// first, the job is cancelled through the Job API and followed until its
// final state, for up to CancelTimeout: a stopped submitter does not
// leave its job running unseen. A job that failed is an error with the
// job server's last error message.
func Follow(ctx context.Context, job *Job, log *slog.Logger) (jobpb.JobState_Enum, error) {
	log = log.With("job", job.ID)
	// The stream lives past ctx: after a cancel it brings the final state.
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	defer stop()
	stream, err := job.Client.GetMessageStream(sctx, &jobpb.JobMessagesRequest{JobId: job.ID})
	if err != nil {
		return jobpb.JobState_UNSPECIFIED, fmt.Errorf("beamjob: following job %s: %w", job.ID, err)
	}
	cancelled := make(chan error, 1)
	defer context.AfterFunc(ctx, func() {
		log.Info("cancelling the Beam job")
		_, err := job.Client.Cancel(sctx, &jobpb.CancelJobRequest{JobId: job.ID})
		cancelled <- err
		time.AfterFunc(CancelTimeout, stop)
	})()
	f := follower{log: log, state: jobpb.JobState_UNSPECIFIED}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return f.ended(err, cancelled, job.ID)
		}
		if f.take(msg) {
			return f.result(job.ID)
		}
	}
}

// follower is what Follow learned of a job.
type follower struct {
	log     *slog.Logger
	state   jobpb.JobState_Enum
	lastErr string // the last error message
}

// take logs msg and reports whether the job has ended.
func (f *follower) take(msg *jobpb.JobMessagesResponse) bool {
	if s := msg.GetStateResponse(); s != nil {
		f.state = s.GetState()
		f.log.Info("Beam job state", "state", f.state.String())
		return Terminal(f.state) && (f.state != jobpb.JobState_FAILED || f.lastErr != "")
	}
	m := msg.GetMessageResponse()
	if m == nil {
		return false
	}
	level := messageLevel(m.GetImportance())
	if level >= slog.LevelError {
		f.lastErr = m.GetMessageText()
	}
	f.log.Log(context.Background(), level, "Beam job message", "text", m.GetMessageText(), "id", m.GetMessageId())
	// A failed job's error may come after its state.
	return f.state == jobpb.JobState_FAILED && f.lastErr != ""
}

// ended is Follow's result when the stream ends: the job's state as
// last seen, or why it could not be followed.
func (f *follower) ended(err error, cancelled <-chan error, id string) (jobpb.JobState_Enum, error) {
	select {
	case cerr := <-cancelled:
		if cerr != nil {
			return f.state, fmt.Errorf("beamjob: cancelling job %s: %w", id, cerr)
		}
		if !Terminal(f.state) {
			return f.state, fmt.Errorf("beamjob: job %s was asked to cancel and is %s after %v", id, f.state, CancelTimeout)
		}
	default:
	}
	if errors.Is(err, io.EOF) {
		return f.result(id)
	}
	return f.state, fmt.Errorf("beamjob: following job %s: %w", id, err)
}

func (f *follower) result(id string) (jobpb.JobState_Enum, error) {
	if f.state == jobpb.JobState_FAILED {
		return f.state, fmt.Errorf("beamjob: job %s failed: %s", id, f.lastErr)
	}
	return f.state, nil
}

func messageLevel(i jobpb.JobMessage_MessageImportance) slog.Level {
	switch i {
	case jobpb.JobMessage_JOB_MESSAGE_ERROR:
		return slog.LevelError
	case jobpb.JobMessage_JOB_MESSAGE_WARNING:
		return slog.LevelWarn
	case jobpb.JobMessage_JOB_MESSAGE_DEBUG, jobpb.JobMessage_JOB_MESSAGE_DETAILED:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
