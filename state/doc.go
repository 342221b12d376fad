// Package state is the durable state of the bundled runner: one Pebble
// database per runner instance, in a data directory of its own.
//
// # Atomic bundles
//
// Everything a bundle changes (user state, timers set and cleared, group
// buffers, watermark holds, the source positions its input came from) is
// collected in one Batch and committed at once: all of it or none of it is
// on disk after a crash, and Commit returns only once it is durable
// (fsync; Options.NoSync is for tests and benchmarks). A runner must
// commit Kafka offsets only after the batch holding what those records
// produced is committed; then a kill -9 at any moment loses nothing: on
// restart the runner reads its state back and Kafka resends what came
// after the committed offsets.
//
// # Keys
//
// Keys are order-preserving tuples (Key): a Namespace byte, then fields.
// The runner lays them out so that what it reads together is contiguous
// and what it drops together is a range:
//
//	group     g | stage | window end (ms) | window | key        -> buffered values
//	user      u | stage | transform | state id | window | key  -> state value
//	timer     t | stage | fire time (ms) | family | window | key | tag
//	hold      h | stage | hold time (ms) | key
//	watermark w | stage                                      -> output watermark
//	source    s | group | topic | partition                  -> position
//	meta      m | name                                       -> store metadata
//
// Windows sort by their end, so the state of every window the watermark
// has passed (plus allowed lateness) goes with one DeleteRange; timers
// sort by fire time, so the due ones are a scan from the start.
//
// # Losing the directory
//
// The store is a cache of what Kafka can replay: losing the directory
// means the runner starts from the committed offsets with empty state,
// which gives the same results (at the cost of reprocessing), never wrong
// ones. A directory written with another FormatVersion is refused.
//
// # Failures
//
// Pebble stops on errors it cannot undo (a write-ahead log or MANIFEST
// write that fails: full disk, read-only file system, I/O error) by
// calling its logger's Fatalf, which by default exits the process. The
// store gives Pebble a logger and an event listener that record such an
// error, and a failed background flush or compaction, as the store's
// failure instead: the commit that met it and every operation after
// return it (ErrFailed, naming the directory and the cause), so the
// runner stops with the checkpoint failed and no offset committed past
// the last checkpoint that was written.
//
// Open refuses, rather than lose silently, a write-ahead log damaged where
// committed records follow the damage (ErrCorrupt): Pebble itself replays
// a log up to its first bad record and drops the rest, which is right for
// a write torn by a crash (never acknowledged) but not for a flipped byte
// in the middle. Options.DiscardCorrupt starts from empty state instead.
// A directory locked by another process is refused with ErrHeld, naming
// that process's pid.
//
// The package imports Pebble and nothing of Beam or Kafka.
package state
