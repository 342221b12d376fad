package blob

import (
	"context"
	"errors"
	"fmt"
	"time"

	cloudblob "gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Retry says how Write retries a failed write. The zero value makes one
// attempt.
type Retry struct {
	// Attempts is how many times a write is tried in all; below 1 is 1.
	Attempts int
	// Backoff is the wait after the first failure; it doubles after each
	// further failure, up to MaxBackoff (no cap when 0).
	Backoff, MaxBackoff time.Duration
}

// DefaultRetry is the blob sink's retry policy: 6 attempts over about
// 6 seconds.
var DefaultRetry = Retry{Attempts: 6, Backoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second}

// WriteError is a write that failed for good: its object, how many
// attempts were made, and the last attempt's error.
type WriteError struct {
	Key      string
	Attempts int
	Err      error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("blob: write %s failed after %d attempt(s): %v", e.Key, e.Attempts, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// Write writes data as the object key of b, whole or not at all, trying
// again per r while the failure may pass. It returns a *WriteError, or
// ctx's error when ctx ends first.
func Write(ctx context.Context, b *cloudblob.Bucket, key string, data []byte, r Retry) error {
	wait := r.Backoff
	for attempt := 1; ; attempt++ {
		err := writeOnce(ctx, b, key, data)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= r.Attempts || !retryable(err) {
			return &WriteError{Key: key, Attempts: attempt, Err: err}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		wait *= 2
		if r.MaxBackoff > 0 {
			wait = min(wait, r.MaxBackoff)
		}
	}
}

// writeOnce writes the object in one piece. A writer commits the object
// on Close; cancelling its context before Close aborts it, so a failed
// write leaves no partial object.
func writeOnce(ctx context.Context, b *cloudblob.Bucket, key string, data []byte) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewWriter(wctx, key, &cloudblob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		cancel()
		return errors.Join(err, w.Close())
	}
	return w.Close()
}

// retryable reports whether a write that failed with err may succeed if
// tried again.
func retryable(err error) bool {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.InvalidArgument,
		gcerrors.FailedPrecondition, gcerrors.Unimplemented, gcerrors.AlreadyExists, gcerrors.Canceled:
		return false
	}
	return true
}
