package main

import (
	"context"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	os.Exit(m.Run())
}

// TestRun runs two queries on both runners over a few events and checks
// the report says each matched its reference.
func TestRun(t *testing.T) {
	var out strings.Builder
	o := options{
		events: 5_000, prismEvents: 2_000,
		queries: []string{"q2", "q7"}, runners: []string{"local", "prism"},
		seed: 1, splits: 2, parallelism: 2, timeout: time.Minute,
	}
	if err := run(context.Background(), o, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"q2 on local: 5000 events", "q7 on prism: 2000 events", "events/CPU s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), ": ok ("); n != 4 {
		t.Errorf("%d runs matched their reference, want 4:\n%s", n, out.String())
	}
}

func TestRunRefusesUnknownQuery(t *testing.T) {
	o := options{events: 10, queries: []string{"q4"}, runners: []string{"local"}}
	if err := run(context.Background(), o, &strings.Builder{}); err == nil || !strings.Contains(err.Error(), "q4") {
		t.Fatalf("got %v, want an error naming q4", err)
	}
}
