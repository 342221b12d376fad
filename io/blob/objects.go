package blob

import (
	"context"
	"errors"
	"io"
)

// Objects reads every object of bucket (a URL Open takes): name ->
// content. It is for tests and tools looking at small buckets.
func Objects(ctx context.Context, bucket string) (map[string][]byte, error) {
	b, err := Open(ctx, bucket)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	out := map[string][]byte{}
	it := b.List(nil)
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if out[o.Key], err = b.ReadAll(ctx, o.Key); err != nil {
			return nil, err
		}
	}
}
