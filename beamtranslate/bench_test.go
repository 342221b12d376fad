package beamtranslate

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"

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
			fn, comb := windowedStageFns(b)
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
			fn.FinishBundle(context.Background(), nil, nil)
		})
	}
	// The same work on the bundled runner's encoded fast path: each record
	// read from the Record coder's bytes, each keyed value written in the
	// KV coder's bytes and added to the accumulator from them.
	b.Run("encoded", func(b *testing.B) {
		fn, comb := windowedStageFns(b)
		enc := make([][]byte, len(recs))
		for i, r := range recs {
			rb, err := encodeRecordForBench(r)
			if err != nil {
				b.Fatal(err)
			}
			enc[i] = rb
		}
		acc, _ := comb.CreateAccumulator()
		var a any = acc
		emit := func(out int, _ beam.EventTime, v []byte) {
			if out != 0 {
				b.Fatal("rejected")
			}
			// The value after the key, as the GroupByKey hands it on.
			n, k := binary.Uvarint(v)
			var err error
			if a, err = comb.AddEncodedInput(a, v[k+int(n):]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r := recs[i%len(recs)]
			if _, err := fn.ProcessEncoded(mtime.FromTime(r.Timestamp), enc[i%len(recs)], emit); err != nil {
				b.Fatal(err)
			}
			i++
		}
		if err := fn.FinishEncodedBundle(); err != nil {
			b.Fatal(err)
		}
	})
}

// windowedStageFns returns the windowed benchmark's fused DoFn and
// CombineFn, set up.
func windowedStageFns(b *testing.B) (*recordKeyFn, *reduceCombineFn) {
	fn := &recordKeyFn{chain{Pipeline: "bench-windowed", Steps: []string{"parse"}, Source: "in", Reduce: "count"}}
	comb := &reduceCombineFn{Pipeline: "bench-windowed", Step: "count"}
	if err := fn.Setup(); err != nil {
		b.Fatal(err)
	}
	if err := comb.Setup(); err != nil {
		b.Fatal(err)
	}
	return fn, comb
}

// encodeRecordForBench encodes r as Beam's Record coder does: its length,
// then the Record coder's bytes.
func encodeRecordForBench(r kafka.Record) ([]byte, error) {
	var buf bytes.Buffer
	c := coder.CoderFrom(coder.LookupCustomCoder(reflect.TypeFor[kafka.Record]()))
	err := exec.MakeElementEncoder(c).Encode(&exec.FullValue{Elm: r}, &buf)
	return buf.Bytes(), err
}
