package nexmark_test

import (
	"context"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"

	"github.com/streams-dev/streams/bench/nexmark"
	"github.com/streams-dev/streams/localrunner"
)

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	os.Exit(m.Run())
}

// testConfig is a small stream: 20,000 events at 1,000 a second, 20 s of
// event time, so that the windowed queries see a few windows.
func testConfig() nexmark.Config {
	c := nexmark.Config{Events: 20_000, Seed: 42, FirstEventRate: 1_000}
	c.EnsureDefaults()
	return c
}

// TestQueries runs every query on the bundled runner and on prism and
// checks its output against the in-memory reference.
func TestQueries(t *testing.T) {
	c := testConfig()
	runners := []struct {
		name string
		run  func(context.Context, *beam.Pipeline) error
	}{
		{"local", func(ctx context.Context, p *beam.Pipeline) error {
			r, err := localrunner.New(localrunner.WithParallelism(2))
			if err != nil {
				return err
			}
			_, err = r.Run(ctx, p)
			return err
		}},
		{"prism", func(ctx context.Context, p *beam.Pipeline) error {
			_, err := prism.Execute(ctx, p)
			return err
		}},
	}
	for _, q := range nexmark.Queries {
		want := q.Reference(&c)
		if want.Count == 0 {
			t.Errorf("%s: the reference has no output", q.Name)
		}
		for _, r := range runners {
			t.Run(q.Name+"/"+r.name, func(t *testing.T) {
				run := t.Name()
				p, s := beam.NewPipelineWithRoot()
				nexmark.Check(s, run, q.Build(s, nexmark.Source(s, c, 4)))
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := r.run(ctx, p); err != nil {
					t.Fatal(err)
				}
				if got := nexmark.TakeDigest(run); got != want {
					t.Errorf("got %v, the reference %v", got, want)
				}
			})
		}
	}
}
