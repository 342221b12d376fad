package blob

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	cloudblob "gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob" // file:// buckets
	_ "gocloud.dev/blob/gcsblob"  // gs:// buckets
)

// Schemes are the bucket URL schemes Open accepts.
var Schemes = []string{"file", "gs", "s3"}

// NoS3Tag is the build tag that leaves the S3 driver, and with it the
// AWS SDK (about 13 MB of a pipeline binary), out of a binary; [URL]
// then refuses s3:// buckets, so a config naming one fails validation.
const NoS3Tag = "streams_nos3"

// ErrBucket is the error of a bucket that cannot be named or opened.
var ErrBucket = errors.New("blob: bad bucket")

// URL returns the URL of bucket: a URL whose scheme is one of Schemes as
// it is, and a bare name, as Sentry Streams' gcs_sink takes it, as the
// GCS bucket gs://name.
func URL(bucket string) (string, error) {
	if bucket == "" {
		return "", fmt.Errorf("%w: empty bucket", ErrBucket)
	}
	if !strings.Contains(bucket, "://") {
		if strings.ContainsAny(bucket, "/?#:") {
			return "", fmt.Errorf("%w: %q is neither a bucket name nor a URL (%s://...)", ErrBucket, bucket, strings.Join(Schemes, ", "))
		}
		return "gs://" + bucket, nil
	}
	u, err := url.Parse(bucket)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBucket, err)
	}
	if !slices.Contains(Schemes, u.Scheme) {
		return "", fmt.Errorf("%w: %q: scheme %q is not one of %s", ErrBucket, bucket, u.Scheme, strings.Join(Schemes, ", "))
	}
	if u.Scheme == "s3" && !S3Linked {
		return "", fmt.Errorf("%w: %q: the S3 driver is not in this binary (built with -tags %s)", ErrBucket, bucket, NoS3Tag)
	}
	return bucket, nil
}

// Open opens bucket (see URL). The caller closes it.
func Open(ctx context.Context, bucket string) (*cloudblob.Bucket, error) {
	u, err := URL(bucket)
	if err != nil {
		return nil, err
	}
	b, err := cloudblob.OpenBucket(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBucket, err)
	}
	return b, nil
}
