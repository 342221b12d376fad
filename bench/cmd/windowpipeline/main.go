// Command windowpipeline runs the stateful benchmark's pipeline (package
// bench/internal/window: parse JSON, count and sum per key in 10-second
// tumbling windows of the record timestamp, serialize) with the runner's
// command line, e.g.
//
//	windowpipeline -n bench --config bench.yaml --adapter local
package main

import (
	"github.com/streams-dev/streams/bench/internal/window"
	"github.com/streams-dev/streams/runner"
)

func main() { runner.Main(window.Pipeline) }
