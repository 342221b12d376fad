// Package changelog is the Kafka changelog of the bundled runner's
// partition tasks, like Kafka Streams' store changelogs: every checkpoint
// of a task appends the keys it changed to a compacted topic, so that a
// process on another machine, with an empty disk, can restore the task's
// state exactly.
//
// # Record format
//
// A task's checkpoint goes to the changelog partition numbered like the
// task's source partition. Each changed key is one record: its key is the
// caller's state key and its value the state value; a deleted key is a
// tombstone (null value). The checkpoint ends with the task's commit
// marker: a record whose key the caller reserves for the task and whose
// value is the checkpoint's epoch, 8 bytes big-endian. The writer produces
// the marker only once every op of the checkpoint is acknowledged, so a
// marker always follows a whole checkpoint. An empty value is written as
// an empty, non-null value: a set, not a delete.
//
// Several tasks may share a partition. Their keys, markers included,
// begin with a per-task prefix that no other task's prefix begins with;
// Restore reads only the records with its task's prefix.
//
// # Appends
//
// A Writer writes one task's checkpoints one after another, in the order
// of their Appends, so no op of a later checkpoint lands before an earlier
// one's marker. Appends of different tasks interleave freely. When an
// Append fails (done reports it; no marker was written), the Writer keeps
// a copy of its ops and writes them again at the start of the task's next
// Append: a checkpoint that succeeds holds every change since the last one
// that did. Forget drops those copies when the task moves. Wait returns
// once a task's appends landed: a process restoring a task that moved
// away and back waits for them before it reads the changelog's end.
//
// # The incomplete tail
//
// Ops that follow a task's last marker belong to a checkpoint whose writer
// died, or whose Append failed, before the marker: Restore does not apply
// them, and reports their keys as Result.Tail. The caller must write those
// keys again, with their restored values (deletes for keys the restored
// state lacks), as a checkpoint of its own before compaction can see it:
// otherwise the cleaner would keep the incomplete checkpoint's value as
// the key's newest and drop the value of the last complete one, and a
// later restore would bring back state no checkpoint ever had. The
// rewrite must therefore come before the cleaner reaches the tail.
// Kafka's cleaner never touches the active segment, and the topic's
// min.compaction.lag.ms (an Ensure config) keeps it off records younger
// than that: set it above the longest time a task may wait for its
// restore. A tail the cleaner reached first cannot be undone from the
// changelog.
//
// # What is not done here
//
// There is no fencing of zombie writers: a writer that lost its task but
// still appends interleaves with the new owner's appends. Exactly-once,
// with a transactional producer whose epoch fences the old one and
// read_committed restores, is a later issue. Restore reads uncommitted
// records.
//
// # Files
//
// writer.go (Writer and Append), partitioner.go (the partitioner a shared
// client needs), restore.go (Restore), ensure.go (Ensure and End) and
// errors.go (sentinel errors and AppendError). The package imports
// franz-go only: nothing of Beam, Pebble or the rest of the module.
package changelog
