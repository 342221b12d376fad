//go:build !streams_nos3

package blob

import _ "gocloud.dev/blob/s3blob" // s3:// buckets

// S3Linked says whether s3:// buckets can be opened: false in a binary
// built with the tag streams_nos3 ([NoS3Tag]).
const S3Linked = true
