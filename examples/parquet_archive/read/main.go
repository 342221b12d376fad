// Command read prints what a bucket holds in Parquet: each object's
// name, its row count and its rows, one JSON object a row, in file
// order, with the columns the file's own schema names (it knows no Go
// type of the writer). make run-parquet runs it on the archive the
// parquet_archive example wrote.
//
//	go run ./examples/parquet_archive/read file:///tmp/archive
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	cloudblob "gocloud.dev/blob"

	"github.com/streams-dev/streams/io/blob"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: read BUCKET (file:///dir, gs://bucket, s3://bucket?region=...)")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Stdout, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		os.Exit(1)
	}
}

// run prints every .parquet object of bucket, in the order of their
// names (the archive's: by project, then time).
func run(ctx context.Context, w io.Writer, bucket string) error {
	b, err := blob.Open(ctx, bucket)
	if err != nil {
		return err
	}
	defer b.Close()
	var objs []*cloudblob.ListObject
	for it := b.List(nil); ; {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if !o.IsDir && strings.HasSuffix(o.Key, ".parquet") {
			objs = append(objs, o)
		}
	}
	slices.SortFunc(objs, func(a, b *cloudblob.ListObject) int { return strings.Compare(a.Key, b.Key) })
	for _, o := range objs {
		data, err := b.ReadAll(ctx, o.Key)
		if err != nil {
			return err
		}
		rows, err := readRows(data)
		if err != nil {
			return fmt.Errorf("%s: %w", o.Key, err)
		}
		fmt.Fprintf(w, "%s: %s, %d bytes\n", o.Key, plural(len(rows), "row"), len(data))
		for _, r := range rows {
			fmt.Fprintf(w, "  %s\n", r)
		}
	}
	fmt.Fprintf(w, "%s in %s\n", plural(len(objs), "Parquet file"), bucket)
	return nil
}

// readRows returns the rows of a Parquet file as JSON objects, with the
// columns in the order of the file's schema and timestamp columns as
// RFC 3339 times.
func readRows(data []byte) ([]string, error) {
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	schema := f.Schema()
	r := parquet.NewReader(f, schema)
	defer r.Close()
	var out []string
	for {
		row := map[string]any{}
		if err := r.Read(&row); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		var b strings.Builder
		for i, field := range schema.Fields() {
			v := row[field.Name()]
			if ts := timestamp(field, v); !ts.IsZero() {
				v = ts.Format(time.RFC3339Nano)
			}
			j, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%s", field.Name(), j)
		}
		out = append(out, "{"+b.String()+"}")
	}
}

// timestamp returns v as a time when field is a Parquet timestamp (an
// integer count of its unit since the epoch); the zero time otherwise.
func timestamp(field parquet.Field, v any) time.Time {
	n, ok := v.(int64)
	lt := field.Type().LogicalType()
	if !ok || lt == nil {
		return time.Time{}
	}
	ts, ok := lt.Value.(*format.TimestampType)
	if !ok || ts.Unit.Value == nil {
		return time.Time{}
	}
	switch ts.Unit.Value.Duration() {
	case time.Millisecond:
		return time.UnixMilli(n).UTC()
	case time.Microsecond:
		return time.UnixMicro(n).UTC()
	default:
		return time.Unix(0, n).UTC()
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
