package blob

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gocloud.dev/gcerrors"

	"github.com/streams-dev/streams/io/blob/blobtest"
)

var fastRetry = Retry{Attempts: 4, Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}

// An object written to each driver, against a real protocol server for
// GCS and S3, reads back whole under its key.
func TestWriteEachDriver(t *testing.T) {
	for name, start := range map[string]func(t *testing.T) string{
		"gcs":  func(t *testing.T) string { return blobtest.GCS(t, nil) },
		"s3":   func(t *testing.T) string { return blobtest.S3(t) },
		"file": func(t *testing.T) string { return "file://" + t.TempDir() },
	} {
		t.Run(name, func(t *testing.T) {
			bucket := start(t)
			ctx := context.Background()
			b, err := Open(ctx, bucket)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			data := []byte("line 1\nline 2\n")
			if err := Write(ctx, b, "out/2026/x-1", data, fastRetry); err != nil {
				t.Fatal(err)
			}
			if got := readObject(t, bucket, "out/2026/x-1"); string(got) != string(data) {
				t.Errorf("read back %q", got)
			}
			if got := keys(t, b); !slices.Equal(got, []string{"out/2026/x-1"}) {
				t.Errorf("keys %v", got)
			}
		})
	}
}

// Uploads that fail with a 503 are retried with backoff until one
// succeeds; the object is then there once.
func TestWriteRetriesTransientFailures(t *testing.T) {
	fail, seen := blobtest.FailFirst(2)
	bucket := blobtest.GCS(t, fail)
	ctx := context.Background()
	b, err := Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := Write(ctx, b, "k", []byte("v"), fastRetry); err != nil {
		t.Fatal(err)
	}
	if n := seen.Load(); n != 3 {
		t.Errorf("%d uploads, want 3", n)
	}
	if got := readObject(t, bucket, "k"); string(got) != "v" {
		t.Errorf("read back %q", got)
	}
}

// A store that keeps failing makes Write give up after Attempts with a
// *WriteError, and leaves no object behind.
func TestWriteGivesUp(t *testing.T) {
	fail, seen := blobtest.FailFirst(100)
	bucket := blobtest.GCS(t, fail)
	ctx := context.Background()
	b, err := Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = Write(ctx, b, "k", []byte("v"), fastRetry)
	var we *WriteError
	if !errors.As(err, &we) || we.Attempts != 4 || we.Key != "k" {
		t.Fatalf("Write: %v, want a WriteError after 4 attempts", err)
	}
	if n := seen.Load(); n != 4 {
		t.Errorf("%d uploads, want 4", n)
	}
	if ok, err := b.Exists(ctx, "k"); ok || err != nil {
		t.Errorf("object exists %v (%v) after a failed write", ok, err)
	}
}

// A bucket that does not exist is not retried.
func TestWriteNoBucketIsPermanent(t *testing.T) {
	blobtest.GCS(t, nil)
	ctx := context.Background()
	b, err := Open(ctx, "gs://nope")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = Write(ctx, b, "k", []byte("v"), fastRetry)
	var we *WriteError
	if !errors.As(err, &we) || we.Attempts != 1 || gcerrors.Code(err) != gcerrors.NotFound {
		t.Fatalf("Write: %v (code %v), want one attempt failing NotFound", err, gcerrors.Code(err))
	}
}
