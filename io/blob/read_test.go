package blob

import (
	"context"
	"io"
	"testing"

	cloudblob "gocloud.dev/blob"
)

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
