package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

type row struct {
	At    time.Time `parquet:"at,timestamp(millisecond)"`
	Name  string    `parquet:"name"`
	Count int64     `parquet:"count"`
}

// writeParquet writes rows as a Parquet file at dir/key, modified at mtime.
func writeParquet(t *testing.T, dir, key string, mtime time.Time, rows ...row) {
	t.Helper()
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, key)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// The reader prints each Parquet object of a file:// bucket in the order
// of their names, not of writing, its rows as JSON with the schema's column order and times in
// RFC 3339, and skips other objects.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 7, 19, 53, 4, 250e6, time.UTC)
	writeParquet(t, dir, "a/second.parquet", at.Add(time.Second), row{at, "b", 2})
	writeParquet(t, dir, "b/first.parquet", at, row{at, "a", 1}, row{at.Add(time.Millisecond), "a\"q", -1})
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), &out, "file://"+dir); err != nil {
		t.Fatal(err)
	}
	want := `a/second.parquet: 1 row, SIZE2 bytes
  {"at":"2026-12-07T19:53:04.25Z","name":"b","count":2}
b/first.parquet: 2 rows, SIZE1 bytes
  {"at":"2026-12-07T19:53:04.25Z","name":"a","count":1}
  {"at":"2026-12-07T19:53:04.251Z","name":"a\"q","count":-1}
2 Parquet files in file://` + dir + "\n"
	for i, key := range []string{"b/first.parquet", "a/second.parquet"} {
		fi, err := os.Stat(filepath.Join(dir, key))
		if err != nil {
			t.Fatal(err)
		}
		want = strings.Replace(want, []string{"SIZE1", "SIZE2"}[i], strconv.FormatInt(fi.Size(), 10), 1)
	}
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}
