package localrunner_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/mtime"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/streams-dev/streams/internal/childtest"
	"github.com/streams-dev/streams/localrunner"
)

// One test package for the whole runner: a Beam test binary takes a minute
// or two to link.
//
// A test that needs a pipeline in a process of its own (a consumer-group
// member it can kill) starts this binary as a child (package childtest);
// then TestMain runs that pipeline instead of the tests.
func TestMain(m *testing.M) {
	if spec, ok := childtest.Spec(); ok {
		flag.Parse()
		beam.Init()
		os.Exit(runKafkaChild(spec))
	}
	ptest.MainWithDefault(m, localrunner.Name)
}

// record is one element seen by a collect sink.
type record struct {
	Value  string
	Time   mtime.Time
	Window string
}

func (r record) String() string {
	return fmt.Sprintf("%s@%d%s", r.Value, r.Time.Milliseconds(), r.Window)
}

// sinks holds what collect DoFns saw, by key. Prism runs its workers in this
// process too (loopback), so the same sink serves as the oracle's output.
var sinks = struct {
	mu sync.Mutex
	m  map[string][]record
}{m: map[string][]record{}}

func takeRecords(key string) []record {
	sinks.mu.Lock()
	defer sinks.mu.Unlock()
	rs := sinks.m[key]
	delete(sinks.m, key)
	return rs
}

func countRecords(key string) int {
	sinks.mu.Lock()
	defer sinks.mu.Unlock()
	return len(sinks.m[key])
}

// collectFn records every element with its event time and window.
type collectFn struct {
	Key string
}

func (f *collectFn) ProcessElement(w beam.Window, ts beam.EventTime, v beam.X) {
	sinks.mu.Lock()
	defer sinks.mu.Unlock()
	sinks.m[f.Key] = append(sinks.m[f.Key], record{Value: fmt.Sprint(v), Time: ts, Window: fmt.Sprint(w)})
}

func init() {
	register.DoFn3x0[beam.Window, beam.EventTime, beam.X](&collectFn{})
}

func collect(s beam.Scope, key string, col beam.PCollection) {
	beam.ParDo0(s.Scope("collect "+key), &collectFn{Key: key}, col)
}

// values returns the sorted element values.
func values(rs []record) []string {
	var vs []string
	for _, r := range rs {
		vs = append(vs, r.Value)
	}
	slices.Sort(vs)
	return vs
}

// strs returns the sorted full records.
func strs(rs []record) []string {
	var vs []string
	for _, r := range rs {
		vs = append(vs, r.String())
	}
	slices.Sort(vs)
	return vs
}

// builder adds a pipeline to s whose sinks use keys prefixed by prefix.
type builder func(s beam.Scope, prefix string)

// runLocal builds and runs a pipeline on the local runner.
func runLocal(t *testing.T, b builder, prefix string, opts ...localrunner.Option) (beam.PipelineResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return runLocalCtx(ctx, t, b, prefix, opts...)
}

func runLocalCtx(ctx context.Context, t *testing.T, b builder, prefix string, opts ...localrunner.Option) (beam.PipelineResult, error) {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	b(s, prefix)
	r, err := localrunner.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r.Run(ctx, p)
}

// runPrism builds and runs the same pipeline on unmodified prism, the
// oracle.
func runPrism(t *testing.T, b builder, prefix string) {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	b(s, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := prism.Execute(ctx, p); err != nil {
		t.Fatalf("prism: %v", err)
	}
}

// runBoth runs b on the local runner and on prism and checks every sink got
// the same multiset of records on both. It returns the local records by
// sink name.
func runBoth(t *testing.T, b builder, sinkNames ...string) map[string][]record {
	t.Helper()
	local, oracle := t.Name()+"/local/", t.Name()+"/prism/"
	if _, err := runLocal(t, b, local); err != nil {
		t.Fatalf("local: %v", err)
	}
	runPrism(t, b, oracle)
	got := map[string][]record{}
	for _, n := range sinkNames {
		l, o := takeRecords(local+n), takeRecords(oracle+n)
		if !slices.Equal(strs(l), strs(o)) {
			t.Errorf("sink %q: local and prism differ\nlocal: %v\nprism: %v", n, strs(l), strs(o))
		}
		got[n] = l
	}
	return got
}
