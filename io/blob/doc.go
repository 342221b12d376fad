// Package blob writes whole objects to object stores, Google Cloud
// Storage, Amazon S3 (and S3-compatible stores) and local directories,
// through gocloud.dev/blob. It is what the blob sink of a pipeline writes
// with; it knows nothing of Beam or Kafka.
//
// # Buckets
//
// [Open] takes a bucket as Sentry Streams' gcs_sink names it, a bare GCS
// bucket name ("arroyo-artifacts"), or as a URL of one of the drivers
// linked in: gs://bucket, s3://bucket?region=..., file:///dir. The URL's
// query takes the driver's own parameters (gocloud.dev/blob/gcsblob,
// s3blob, fileblob): an S3-compatible endpoint is
// s3://bucket?endpoint=http://host:port&use_path_style=true. GCS reads
// its credentials from the environment (Application Default
// Credentials), and STORAGE_EMULATOR_HOST points it at an emulator.
//
// # Writing
//
// [Write] writes one object in one piece: gocloud writers make an object
// visible only when it is closed, and a write that fails is aborted, so
// a reader sees the whole object or none. Failures that may pass (a 5xx,
// a timeout, a broken connection) are retried with exponential backoff
// per [Retry]; others (no such bucket, no permission) are not.
//
// # Object names
//
// [ParseTemplate] compiles an object name template such as
// "{step}/{date}/{partition}-{offset}-{seq}" that [Template.Name] fills
// from a batch's [NameFields].
package blob
