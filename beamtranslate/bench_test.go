package beamtranslate

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"

	"github.com/streams-dev/streams/io/kafka"
)

// BenchmarkWindowedStageDoFns is the per-record cost of the windowed
// benchmark's DSL work outside the Beam SDK's executor: the fused DoFn
// (record -> parse -> key), then the keyed value's encoding and, at the
// combine, its decoding and AddInput. Beside the pipeline's profile (the
// SDK stage and the combine together) it says how much of the per-record
// cost is the executor's, not the DoFns' (go test -bench WindowedStage
// ./beamtranslate/).
func BenchmarkWindowedStageDoFns(b *testing.B) {
	Register("bench-windowed", windowedPipeline().MustBuild())
	recs := make([]kafka.Record, 1000)
	for i := range recs {
		v := fmt.Sprintf(`{"type":"k%d","n":%d,"id":%d,"source":"bench","payload":"%s"}`, i%100, i, i, strings.Repeat("x", 80))
		recs[i] = kafka.Record{Topic: "events", Partition: int32(i % 4), Offset: int64(i), Value: []byte(v), Timestamp: time.UnixMilli(int64(1_700_000_000_000 + i))}
	}
	for _, coders := range []bool{false, true} {
		b.Run(fmt.Sprintf("coders=%v", coders), func(b *testing.B) {
			fn := &recordKeyFn{chain{Pipeline: "bench-windowed", Steps: []string{"parse"}, Source: "in", Reduce: "count"}}
			comb := &reduceCombineFn{Pipeline: "bench-windowed", Step: "count"}
			if err := fn.Setup(); err != nil {
				b.Fatal(err)
			}
			if err := comb.Setup(); err != nil {
				b.Fatal(err)
			}
			acc, _ := comb.CreateAccumulator()
			emit := func(_ beam.EventTime, _ string, e element) {
				if !coders {
					return
				}
				enc, err := encodeElement(e)
				if err != nil {
					b.Fatal(err)
				}
				dec, err := decodeElement(enc)
				if err != nil {
					b.Fatal(err)
				}
				if acc, err = comb.AddInput(acc, dec); err != nil {
					b.Fatal(err)
				}
			}
			bad := func(v invalid) { b.Fatal(v.Error) }
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				r := recs[i%len(recs)]
				fn.ProcessElement(mtime.FromTime(r.Timestamp), r, emit, bad)
				i++
			}
			fn.FinishBundle(nil, nil)
		})
	}
}
