package localrunner_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/streams-dev/streams/localrunner"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// wordLenFn keys each word by its first letter, with its length, at an
// event time of 4 s per letter; a word starting with "!" goes to its
// second output. "fail" makes it return an error, "panic" panic. It
// implements localrunner.EncodedDoFn for its coders (string in,
// KV<string, int64> and string out), counting the elements it processes
// that way in encodedCalls.
type wordLenFn struct{}

var encodedCalls atomic.Int64

var _ localrunner.EncodedDoFn = (*wordLenFn)(nil)

func (fn *wordLenFn) word(w string, emit func(beam.EventTime, string, int64), bad func(string)) error {
	switch {
	case w == "fail":
		return fmt.Errorf("cannot take %q", w)
	case w == "panic":
		panic("boom at " + w)
	case strings.HasPrefix(w, "!"):
		bad(w)
		return nil
	}
	emit(mtime.FromMilliseconds(int64(len(w))*4000), w[:1], int64(len(w)))
	return nil
}

func (fn *wordLenFn) ProcessElement(w string, emit func(beam.EventTime, string, int64), bad func(string)) error {
	return fn.word(w, emit, bad)
}

func (fn *wordLenFn) ProcessEncodedFor(in *coder.Coder, outs []*coder.Coder) bool {
	return in.Kind == coder.String && len(outs) == 2 &&
		outs[0].Kind == coder.KV && outs[0].Components[0].Kind == coder.String && outs[0].Components[1].Kind == coder.VarInt &&
		outs[1].Kind == coder.String
}

func (fn *wordLenFn) ProcessEncoded(ts beam.EventTime, data []byte, emit func(int, beam.EventTime, []byte)) (int, error) {
	encodedCalls.Add(1)
	n, k := binary.Uvarint(data)
	if k <= 0 || uint64(len(data)-k) < n {
		return 0, errors.New("truncated string")
	}
	w := string(data[k : k+int(n)])
	err := fn.word(w,
		func(t beam.EventTime, key string, v int64) {
			b := binary.AppendUvarint(nil, uint64(len(key)))
			b = append(b, key...)
			emit(0, t, binary.AppendUvarint(b, uint64(v)))
		},
		func(bad string) {
			b := binary.AppendUvarint(nil, uint64(len(bad)))
			emit(1, ts, append(b, bad...))
		})
	return k + int(n), err
}

func (fn *wordLenFn) FinishEncodedBundle() error { return nil }

func sumInts2(a, b int64) int64 { return a + b }

func init() {
	register.DoFn3x1[string, func(beam.EventTime, string, int64), func(string), error](&wordLenFn{})
	register.Emitter3[beam.EventTime, string, int64]()
	register.Emitter1[string]()
	register.Function2x1(sumInts2)
}

// wordLens runs wordLenFn between two stage boundaries, its keyed output
// through fixed windows into a sum per key, its rejects collected.
func wordLens(words ...string) builder {
	return func(s beam.Scope, prefix string) {
		in := beam.Reshuffle(s, beam.CreateList(s, words))
		kvs, bad := beam.ParDo2(s.Scope("words"), &wordLenFn{}, in)
		sums := beam.CombinePerKey(s, sumInts2, beam.WindowInto(s, window.NewFixedWindows(10*time.Second), kvs))
		collect(s, prefix+"sums", beam.ParDo(s, formatKV, sums))
		collect(s, prefix+"bad", beam.Reshuffle(s, bad))
	}
}

func formatKV(k string, v int64) string { return fmt.Sprintf("%s=%d", k, v) }

func init() { register.Function2x1(formatKV) }

// TestEncodedDoFn runs a DoFn that implements EncodedDoFn with the fast
// path on and off, and on prism: the same windows, sums and rejects.
func TestEncodedDoFn(t *testing.T) {
	words := wordLens("apple", "avocado", "!nope", "banana", "blueberry", "cherry", "ab", "!no", "a")
	before := encodedCalls.Load()
	got := runBoth(t, words, "sums", "bad")
	if n := encodedCalls.Load() - before; n != 9 {
		t.Errorf("the fast path processed %d elements, want all 9", n)
	}
	sums := strs(got["sums"])
	want := []string{"a=3@9999[0:10000)", "a=12@29999[20000:30000)", "b=6@29999[20000:30000)", "b=9@39999[30000:40000)", "c=6@29999[20000:30000)"}
	slices.Sort(want)
	if !slices.Equal(sums, want) {
		t.Errorf("sums %v, want %v", sums, want)
	}
	if bad := values(got["bad"]); !slices.Equal(bad, []string{"!no", "!nope"}) {
		t.Errorf("rejects %v", bad)
	}

	prefix := t.Name() + "/sdk/"
	before = encodedCalls.Load()
	if _, err := runLocal(t, words, prefix, localrunner.WithEncodedDoFns(false)); err != nil {
		t.Fatal(err)
	}
	if n := encodedCalls.Load() - before; n != 0 {
		t.Errorf("WithEncodedDoFns(false) processed %d elements on the fast path", n)
	}
	if s := strs(takeRecords(prefix + "sums")); !slices.Equal(s, sums) {
		t.Errorf("without the fast path: sums %v, with it %v", s, sums)
	}
	if bad := values(takeRecords(prefix + "bad")); !slices.Equal(bad, []string{"!no", "!nope"}) {
		t.Errorf("without the fast path: rejects %v", bad)
	}
}

// TestEncodedDoFnFailures: an error or a panic of ProcessEncoded fails the
// run with a *TransformError naming the ParDo, as the SDK's executor does.
func TestEncodedDoFnFailures(t *testing.T) {
	for _, word := range []string{"fail", "panic"} {
		t.Run(word, func(t *testing.T) {
			before := encodedCalls.Load()
			_, err := runLocal(t, wordLens("apple", word), t.Name()+"/")
			var te *localrunner.TransformError
			if !errors.As(err, &te) {
				t.Fatalf("Run: %v, want a *TransformError", err)
			}
			if encodedCalls.Load() == before {
				t.Error("the fast path was not taken")
			}
			cause := `cannot take "fail"`
			if word == "panic" {
				cause = "boom at panic"
			}
			t.Logf("error: %v", err)
			if te.Transform != "words/localrunner_test.wordLenFn" || te.Panic != (word == "panic") || !strings.Contains(te.Cause, cause) {
				t.Errorf("error %v: transform %q, panic %v, cause %q; want words/..., %v, %q", err, te.Transform, te.Panic, te.Cause, word == "panic", cause)
			}
		})
	}
}

// plansWithEncoded plans p with Options.EncodedDoFns on, then off.
func plansWithEncoded(t *testing.T, p *beam.Pipeline) iter.Seq2[bool, *plan.Plan] {
	t.Helper()
	pp, err := localrunner.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return func(yield func(bool, *plan.Plan) bool) {
		for _, on := range []bool{true, false} {
			pl, err := plan.Build(pp, plan.Options{EncodedDoFns: on})
			if err != nil {
				t.Fatal(err)
			}
			if !yield(on, pl) {
				return
			}
		}
	}
}

// TestEncodedPlanCut: what reads an EncodedDoFn's output directly starts
// a stage of its own when the fast path is on, so that the DoFn's stage
// keeps the Encoded shape; off, it fuses with the DoFn as usual.
func TestEncodedPlanCut(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	in := beam.Reshuffle(s, beam.Create(s, "a"))
	kvs, bad := beam.ParDo2(s.Scope("words"), &wordLenFn{}, in)
	collect(s, "kvs", beam.ParDo(s, formatKV, beam.WindowInto(s, window.NewFixedWindows(time.Second), kvs)))
	collect(s, "bad", bad)
	for on, pl := range plansWithEncoded(t, p) {
		var stages []string
		for _, st := range pl.Stages {
			if st.Kind == plan.KindSDK {
				stages = append(stages, fmt.Sprintf("%s encoded=%v", strings.Join(st.Names, ","), st.Encoded != nil))
			}
		}
		want := []string{
			"beam.createFn encoded=true",
			"words/localrunner_test.wordLenFn,WindowInto encoded=true",
			"collect bad/localrunner_test.collectFn encoded=true",
			"localrunner_test.formatKV,collect kvs/localrunner_test.collectFn encoded=false",
		}
		if !on {
			want = []string{
				"beam.createFn encoded=false",
				"words/localrunner_test.wordLenFn,collect bad/localrunner_test.collectFn,WindowInto,localrunner_test.formatKV,collect kvs/localrunner_test.collectFn encoded=false",
			}
		}
		if !slices.Equal(stages, want) {
			t.Errorf("EncodedDoFns %v: stages\n%q\nwant\n%q", on, stages, want)
		}
	}
}

// TestEncodedPlan checks which stages the planner marks as Encoded.
func TestEncodedPlan(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	wordLens("a")(s, "")
	for on, pl := range plansWithEncoded(t, p) {
		var encoded []string
		for _, st := range pl.Stages {
			if st.Encoded == nil {
				continue
			}
			encoded = append(encoded, strings.Join(st.Names, ","))
			e := st.Encoded
			if !strings.Contains(st.Names[0], "wordLenFn") {
				continue
			}
			if len(e.Outputs) != 2 || e.Outputs[0].Window == nil || e.Outputs[0].Window.Kind != window.FixedWindows || e.Outputs[1].Window != nil || e.Outputs[1].PCollection == "" {
				t.Errorf("stage %v: outputs %+v, want a fixed-windowed one and a direct one", st.Names, e.Outputs)
			}
		}
		// A stage of one ParDo between its input and outputs has the
		// shape, whatever its DoFn (the worker then asks the DoFn): the
		// Create stage (its Impulse is runner-side), wordLenFn's, the
		// collector of the rejects. The sums are formatted and collected
		// in one stage, which has another shape.
		want := []string{"beam.createFn", "words/localrunner_test.wordLenFn,WindowInto", "collect bad/localrunner_test.collectFn"}
		if !on {
			want = nil
		}
		if !slices.Equal(encoded, want) {
			t.Errorf("EncodedDoFns %v: encoded stages %q, want %q", on, encoded, want)
		}
	}
}
