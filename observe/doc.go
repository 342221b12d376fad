// Package observe is how an operator sees a running pipeline: its
// Prometheus metrics, its health, and a live picture of its steps.
//
// A Pipeline holds the metrics of one pipeline on a Prometheus registry
// of its own (with the Go runtime's and the process's collectors), and
// its Health. The runner creates it, registers it under the pipeline's ID
// (Register) so that the DoFns running the steps find it (Lookup), feeds
// it what the bundled runner reports (sources, commits, bundles), and
// serves Handler: /metrics, /healthz, /readyz, the page at / and the JSON
// it draws from (/api/pipeline, /api/stats, and /api/history, the last
// 15 minutes of figures that RecordHistory samples into a bounded ring).
//
// Metric names follow Prometheus conventions: streams_<subsystem>_<what>
// with _total for counters and base units (seconds, bytes); every series
// has the label pipeline. The README lists them all in one table.
//
// A nil *Pipeline, *Step or *Sink records nothing, so that code running
// the steps costs nothing more when metrics are off.
package observe
