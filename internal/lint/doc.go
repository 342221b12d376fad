// Package lint holds the tests that keep the module's layers apart. It has
// no code: `go test ./internal/lint/` lists every package's imports with
// `go list -deps` (which reads import lines and compiles nothing, so it
// takes about a second even though Beam is in the graph) and fails on an
// arrow the layering forbids, naming the package and the import chain.
//
// # Layers
//
// This doc is where the layers are written down; the rules below are the
// test's table of them:
//
//	examples/ ─┐
//	cmd/       ├─> runner (CLI, config glue) ─> dsl/, config/ ─> component/
//	           │                            └─> beamtranslate/ ─> Beam SDK, io/kafka/, io/blob/, internal/contract/, component/
//	           └──────────────────────────────> localrunner/ ─> Beam SDK, io/kafka/, state/, internal/contract/
//
// # Rules
//
// A rule about a package covers the packages under it too. "The module"
// means github.com/streams-dev/streams and everything under it. Heavy
// dependencies (Beam: github.com/apache/beam; Kafka:
// github.com/twmb/franz-go; Pebble: github.com/cockroachdb/pebble) are
// checked transitively, so an indirect route through a third package is
// caught; arrows between the module's own packages are checked on direct
// imports.
//
//   - dsl imports nothing of Beam, Kafka or Pebble, and no other package of
//     the module. It builds an immutable graph and knows nothing of how it
//     runs.
//   - config imports no Beam (validating a deployment file must stay cheap),
//     and no package of the module except io/kafka/clientconf, which checks
//     Kafka client properties, and component.
//   - component (the config side of a sink component: its kind, keys,
//     docs and checks) imports no package of the module and no Beam,
//     Kafka or Pebble: config decodes and checks components' keys with
//     it, and beamtranslate.Sink pairs a spec with its translation. The
//     list of components a program runs is one function in runner
//     (Components), handed to both.
//   - io/kafka imports no package of the module except io/kafka/clientconf
//     and internal/wire (the coders' byte layout): it is a Beam I/O any Beam
//     Go pipeline can use.
//   - io/kafka/clientconf imports no package of the module and no Beam, so
//     config can use it.
//   - io/blob (objects for the blob sink, through gocloud.dev/blob)
//     imports no package of the module and no Beam, Kafka or Pebble.
//   - beamtranslate imports none of runner, config, devbroker and
//     localrunner: it maps DSL steps to Beam transforms and nothing more.
//   - localrunner imports none of dsl, beamtranslate, config and runner: it
//     is a real Beam runner that takes any *beam.Pipeline, not only ours.
//   - internal/contract imports no package of the module, and no Kafka or
//     Pebble: it is the leaf where beamtranslate and localrunner declare
//     what they agree on without importing each other (the late-data
//     annotation URN, the EncodedDoFn and EncodedCombineFn interfaces).
//     beamtranslate, localrunner/internal/plan and
//     localrunner/internal/worker must import it (TestContractsDeclaredOnce),
//     and no other non-test file may spell one of its URNs (string
//     literals starting with a quote and streams.dev/).
//   - observe (metrics, health, the pipeline page) imports no Beam, Kafka
//     or Pebble, and of the module only dsl: the DoFns and the runner both
//     report to it.
//   - state (the Pebble store) imports no Beam, no Kafka and no other
//     package of the module.
//   - devbroker imports no Beam and no package of the module.
//   - Nothing imports examples/..., cmd/... or conformance (except inside
//     those trees). They are programs and the conformance suite: leaves.
//   - Nothing imports deploy (the Kubernetes manifests' renderer) but
//     tests, so kustomize and the Kubernetes API types link into no
//     pipeline program; deploy imports no package of the module.
//
// Tests are exempt: the rules read each package's non-test imports, so a
// test may import a runner, a fake broker or the conformance suite.
//
// A rule that matches no package fails the test, so a renamed directory
// cannot quietly switch a rule off (a rule about a package still to be
// written may say why it matches nothing; none does today).
package lint
