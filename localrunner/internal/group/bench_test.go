package group

import (
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/typex"

	"github.com/streams-dev/streams/state"
)

// BenchmarkProcess groups 20 batches of 500 elements (100 keys, event
// times rising by 10 ms an element) into a new buffer, the watermark
// following the batches, then fires what is left: fixed 1 s windows, and
// sessions with a 5 s gap (every element extends its key's session). With
// checkpoint, the buffer is checkpointed (NoSync) after every batch.
func BenchmarkProcess(b *testing.B) {
	const batches, size, keys = 20, 500, 100
	wc := coder.NewIntervalWindow()
	for _, c := range []struct {
		name       string
		s          Strategy
		win        func(ts int64) typex.Window
		checkpoint bool
	}{
		{"fixed", Strategy{}, func(ts int64) typex.Window { return iw(ts-ts%1000, ts-ts%1000+1000) }, false},
		{"sessions", Strategy{Merging: true}, func(ts int64) typex.Window { return iw(ts, ts+5000) }, false},
		{"fixed-checkpoint", Strategy{}, func(ts int64) typex.Window { return iw(ts-ts%1000, ts-ts%1000+1000) }, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			t := &testing.T{}
			in := make([]Input[int], batches)
			keyNames := make([]string, keys)
			for k := range keyNames {
				keyNames[k] = string(rune('a'+k%26)) + string(rune('a'+k/26))
			}
			for i := range in {
				es := make([]elm, size)
				for j := range es {
					ts := int64(i*size+j) * 10
					es[j] = elm{keyNames[j%keys], int64(j), ts, []typex.Window{c.win(ts)}}
				}
				in[i] = input(t, wc, mtime.FromMilliseconds(int64(i*size)*10), nil, es...)
			}
			var store *state.Store
			if c.checkpoint {
				var err error
				if store, err = state.Open(b.TempDir(), state.Options{NoSync: true}); err != nil {
					b.Fatal(err)
				}
				defer store.Close()
			}
			prefix := state.NewKey(state.NSGroup).Text("bench")
			process := func(buf *Buffer[int], in []Input[int], wm mtime.Time) {
				if _, err := buf.Process(in, wm, time.Time{}); err != nil {
					b.Fatal(err)
				}
				if store == nil {
					return
				}
				w := store.NewBatch()
				defer w.Close()
				if err := buf.Checkpoint(w, prefix); err != nil {
					b.Fatal(err)
				}
				if err := w.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				buf, err := New[int](Config{Input: coder.NewW(kvCoder, wc), Strategy: c.s})
				if err != nil {
					b.Fatal(err)
				}
				for i := range in {
					process(buf, in[i:i+1], in[i].Arrival)
				}
				process(buf, nil, mtime.MaxTimestamp)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batches*size), "ns/elem")
		})
	}
}
