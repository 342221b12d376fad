package blob

import (
	"errors"
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"arroyo-artifacts":             "gs://arroyo-artifacts",
		"gs://b":                       "gs://b",
		"s3://b?region=eu-west-1":      "s3://b?region=eu-west-1",
		"file:///var/out?create_dir=1": "file:///var/out?create_dir=1",
	} {
		got, err := URL(in)
		if err != nil || got != want {
			t.Errorf("URL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"":              "empty bucket",
		"a/b":           "neither a bucket name nor a URL",
		"azblob://x":    `scheme "azblob" is not one of file, gs, s3`,
		"http://host/b": `scheme "http"`,
	} {
		_, err := URL(in)
		if !errors.Is(err, ErrBucket) || !strings.Contains(err.Error(), want) {
			t.Errorf("URL(%q): %v, want ErrBucket with %q", in, err, want)
		}
	}
}

// TestURLS3 passes with and without the tag streams_nos3 (deploy's
// TestBuildTags runs it with): an s3:// bucket without the driver is
// refused, naming the tag.
func TestURLS3(t *testing.T) {
	_, err := URL("s3://b?region=eu-west-1")
	switch {
	case S3Linked && err != nil:
		t.Errorf("URL(s3://b): %v", err)
	case !S3Linked && (!errors.Is(err, ErrBucket) || !strings.Contains(err.Error(), NoS3Tag)):
		t.Errorf("URL(s3://b) without the S3 driver: %v, want ErrBucket naming %s", err, NoS3Tag)
	}
}
