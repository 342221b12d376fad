// Command windowshuffle runs the stateful benchmark's pipeline with a
// Reduce whose key the partitioning does not follow
// (window.ShufflePipeline): on the bundled runner its input goes through
// the shuffle topic. Same command line as windowpipeline.
package main

import (
	"github.com/streams-dev/streams/bench/internal/window"
	"github.com/streams-dev/streams/runner"
)

func main() { runner.Main(window.ShufflePipeline) }
