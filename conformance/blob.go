package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/io/blob"
)

// BlobWant is what a blob sink of a case must have written, once the
// run is over. Runners may cut batches differently (a batch is per
// source partition, bounded by a processing-time wait), so what is
// compared is what every runner must agree on: the items of all objects
// together, as a multiset, and invariants of each object.
type BlobWant struct {
	// Decode turns an object into its items (Lines, ParquetRows). An
	// object it cannot decode, a partial one, is a difference.
	Decode func(data []byte) ([]string, error)
	// Name is a regular expression every object name must match whole.
	Name string
	// Items are the items of all the objects together.
	Items []string
	// MaxItems bounds the items of one object (0: no bound). An empty
	// object is always a difference.
	MaxItems int
	// Objects, when set, are the objects exactly, for sinks whose
	// objects every runner makes alike (one per window): each object
	// must match one of them, by name and items, once.
	Objects []BlobObject
}

// BlobObject is one expected object: a regular expression its name
// matches whole, and its items (in any order).
type BlobObject struct {
	Name  string
	Items []string
}

func (w BlobWant) items() int {
	n := len(w.Items)
	for _, o := range w.Objects {
		n += len(o.Items)
	}
	return n
}

// Lines decodes an object of payloads each followed by "\n"
// (dsl.BlobDelimiter): an object that does not end with one is partial.
func Lines(data []byte) ([]string, error) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("%d bytes not ending in a newline", len(data))
	}
	return strings.Split(string(data[:len(data)-1]), "\n"), nil
}

// ParquetRows decodes a Parquet file of T rows, each row as its JSON.
func ParquetRows[T any]() func([]byte) ([]string, error) {
	return func(data []byte) ([]string, error) {
		rows, err := parquet.Read[T](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, err
		}
		out := make([]string, len(rows))
		for i, r := range rows {
			b, err := json.Marshal(r)
			if err != nil {
				return nil, err
			}
			out[i] = string(b)
		}
		return out, nil
	}
}

// blobBuckets points each blob sink of g at a new directory (the file
// driver) through its steps_config bucket, and returns the buckets by
// sink. A blob sink the case does not describe fails t.
func blobBuckets(t testing.TB, c Case, g *dsl.Graph, steps map[string]any) map[string]string {
	t.Helper()
	buckets := map[string]string{}
	for _, n := range g.Sinks() {
		if n.SinkKind() != dsl.SinkBlob {
			continue
		}
		if _, ok := c.Blobs[n.Name()]; !ok {
			t.Fatalf("case %s: blob sink %s has no Blobs entry", c.Name, n.Name())
		}
		dir := filepath.Join(t.TempDir(), "bucket")
		u := url.URL{Scheme: "file", Path: filepath.ToSlash(dir), RawQuery: "create_dir=true&metadata=skip"}
		buckets[n.Name()] = u.String()
		steps[n.Name()] = map[string]any{"bucket": u.String()}
	}
	return buckets
}

// blobsDone reports whether every blob sink holds at least as many items
// as expected.
func blobsDone(ctx context.Context, c Case, buckets map[string]string) bool {
	for sink, b := range buckets {
		objs, err := blob.Objects(ctx, b)
		if err != nil {
			return false
		}
		n := 0
		for _, data := range objs {
			items, _ := c.Blobs[sink].Decode(data)
			n += len(items)
		}
		if n < c.Blobs[sink].items() {
			return false
		}
	}
	return true
}

// checkBlobs compares what each blob sink wrote with the case's
// BlobWant, and describes the differences.
func checkBlobs(ctx context.Context, c Case, buckets map[string]string) []string {
	var diffs []string
	for sink, b := range buckets {
		objs, err := blob.Objects(ctx, b)
		if err != nil {
			diffs = append(diffs, fmt.Sprintf("blob sink %s: %v", sink, err))
			continue
		}
		for _, d := range c.Blobs[sink].check(objs) {
			diffs = append(diffs, fmt.Sprintf("blob sink %s: %s", sink, d))
		}
	}
	return diffs
}

// check describes how objs (name -> content) differ from w.
func (w BlobWant) check(objs map[string][]byte) []string {
	var diffs []string
	name := regexp.MustCompile("^(?:" + w.Name + ")$")
	var all []string
	got := map[string][]string{}
	for key, data := range objs {
		items, err := w.Decode(data)
		switch {
		case err != nil:
			diffs = append(diffs, fmt.Sprintf("object %s: %v", key, err))
		case len(items) == 0:
			diffs = append(diffs, fmt.Sprintf("object %s: empty", key))
		case w.MaxItems > 0 && len(items) > w.MaxItems:
			diffs = append(diffs, fmt.Sprintf("object %s: %d items, want at most %d", key, len(items), w.MaxItems))
		}
		if !name.MatchString(key) {
			diffs = append(diffs, fmt.Sprintf("object name %s does not match %s", key, w.Name))
		}
		got[key] = items
		all = append(all, items...)
	}
	if w.Objects != nil {
		return append(diffs, matchObjects(w.Objects, got)...)
	}
	if d := diffItems(w.Items, all); d != "" {
		diffs = append(diffs, d)
	}
	return diffs
}

// matchObjects pairs each expected object with one object got, by name
// pattern and items, and describes those left over on either side.
func matchObjects(want []BlobObject, got map[string][]string) []string {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range got {
			if !yield(k) {
				return
			}
		}
	})
	used := map[string]bool{}
	var diffs []string
	for _, w := range want {
		re := regexp.MustCompile("^(?:" + w.Name + ")$")
		i := slices.IndexFunc(keys, func(k string) bool {
			return !used[k] && re.MatchString(k) && diffItems(w.Items, got[k]) == ""
		})
		if i < 0 {
			diffs = append(diffs, fmt.Sprintf("missing object %s with %q", w.Name, w.Items))
			continue
		}
		used[keys[i]] = true
	}
	for _, k := range keys {
		if !used[k] {
			diffs = append(diffs, fmt.Sprintf("unexpected object %s with %q", k, got[k]))
		}
	}
	return diffs
}

// diffItems compares two multisets of items ("" when equal).
func diffItems(want, got []string) string {
	w, g := slices.Sorted(slices.Values(want)), slices.Sorted(slices.Values(got))
	if slices.Equal(w, g) {
		return ""
	}
	var missing, extra []string
	for _, x := range w {
		if i := slices.Index(g, x); i >= 0 {
			g = slices.Delete(g, i, i+1)
		} else {
			missing = append(missing, x)
		}
	}
	extra = g
	return fmt.Sprintf("items missing: %q; unexpected: %q", missing, extra)
}
