// Package blobtest starts real object-store protocol servers in process
// for tests: fake-gcs-server's fakestorage for GCS and gofakes3 for S3.
// Each server has one bucket, "b", and the returned URL opens it with
// package blob (and gocloud.dev/blob).
package blobtest

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// GCS starts a GCS server with bucket "b", points the GCS driver at it
// (STORAGE_EMULATOR_HOST, so not in parallel tests; child processes
// started after it inherit it), and returns "gs://b". fail, when not
// nil, is asked at each upload whether to answer 503 instead.
func GCS(t testing.TB, fail func() bool) string {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", PublicHost: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	srv.CreateBucket("b")
	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
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

// S3 starts an S3 server with bucket "b" and returns its URL, with
// static credentials in the environment (so not in parallel tests).
func S3(t testing.TB) string {
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

// FailFirst returns a fail function for GCS that fails the first n
// uploads, and the count of uploads it was asked about.
func FailFirst(n int64) (func() bool, *atomic.Int64) {
	var seen atomic.Int64
	return func() bool { return seen.Add(1) <= n }, &seen
}
