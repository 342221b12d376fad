package blob

import (
	"context"
	"maps"
	"testing"
)

// Objects gives every object of a bucket with its content, nested names
// included, and an error for a bucket that cannot be opened.
func TestObjects(t *testing.T) {
	ctx := context.Background()
	bucket := "file://" + t.TempDir() + "?metadata=skip"
	b, err := Open(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{"a.txt": []byte("one"), "day/b.txt": []byte("two"), "empty": {}}
	for k, v := range want {
		if err := b.WriteAll(ctx, k, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	got, err := Objects(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.EqualFunc(got, want, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := Objects(ctx, "nosuch://bucket"); err == nil {
		t.Error("a bucket of an unknown scheme opened")
	}
}
