// Command seedpipeline runs the benchmark's seed pipeline (package
// bench/internal/seed) with the runner's command line, e.g.
//
//	seedpipeline -n bench --config bench.yaml --adapter local
package main

import (
	"github.com/streams-dev/streams/bench/internal/seed"
	"github.com/streams-dev/streams/runner"
)

func main() { runner.Main(seed.Pipeline) }
