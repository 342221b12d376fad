package blob

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	cloudblob "gocloud.dev/blob"
)

// fakeGCS starts an in-process GCS server with bucket "b" and points
// the GCS driver at it (STORAGE_EMULATOR_HOST, so not in parallel tests).
// fail, when set, decides per upload request whether to answer 503.
func fakeGCS(t *testing.T, fail func() bool) string {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", PublicHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucket("b")
	target, _ := url.Parse(srv.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail != nil && r.Method == http.MethodPost && fail() {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	t.Setenv("STORAGE_EMULATOR_HOST", front.Listener.Addr().String())
	return "gs://b"
}

// fakeS3 starts an in-process S3 server with bucket "b".
func fakeS3(t *testing.T) string {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	return "s3://b?region=us-east-1&use_path_style=true&disable_https=true&endpoint=" + url.QueryEscape(srv.URL)
}

// failN returns a fail function for fakeGCS that fails the first n
// uploads, and the count of uploads seen.
func failN(n int64) (func() bool, *atomic.Int64) {
	var seen atomic.Int64
	return func() bool { return seen.Add(1) <= n }, &seen
}

func readObject(t *testing.T, bucket, key string) []byte {
	t.Helper()
	ctx := context.Background()
	b, err := Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func keys(t *testing.T, b *cloudblob.Bucket) []string {
	t.Helper()
	var out []string
	it := b.List(nil)
	for {
		o, err := it.Next(context.Background())
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o.Key)
	}
}
