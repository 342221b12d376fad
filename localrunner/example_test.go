package localrunner_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/streams-dev/streams/localrunner"
)

func shout(s string) { fmt.Println(strings.ToUpper(s) + "!") }

func init() {
	// Register DoFns before beam.Init (ptest.MainWithDefault calls it).
	register.Function1x0(shout)
}

// A pipeline runs in process with New(...).Run; beam.Run(ctx, "local", p)
// and --runner=local do the same with default options.
func ExampleRunner_Run() {
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo0(s, shout, beam.Create(s, "hello", "local runner"))

	r, err := localrunner.New(localrunner.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := r.Run(context.Background(), p); err != nil {
		fmt.Println(err)
	}
	// Output:
	// HELLO!
	// LOCAL RUNNER!
}
