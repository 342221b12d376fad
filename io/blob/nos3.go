//go:build streams_nos3

package blob

// S3Linked says whether s3:// buckets can be opened: false in a binary
// built with the tag streams_nos3 ([NoS3Tag]), which this is.
const S3Linked = false
