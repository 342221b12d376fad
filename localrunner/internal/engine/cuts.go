package engine

import "github.com/streams-dev/streams/localrunner/internal/kafkasource"

// Cuts of a durable exactly-once run (syncCuts)
//
// The source's transaction ends at a cut, and the engine's state must be
// that of the same cut: the checkpoint whose changelog records commit in
// the transaction must hold exactly what the transaction's outputs and
// offsets came from. So such a run checkpoints at cuts only:
//
//  1. The source stops handing batches on and sends Event{Cut}
//     (cutWanted).
//  2. Once nothing runs, the engine writes a checkpoint (checkpointDue);
//     elements may be queued, at stages of partition tasks, whose queues
//     the checkpoint saves into their changelogs, so the cut costs the
//     bundles in flight, not the drain of the queues (elsewhere it waits
//     for the queues to drain). Its changelog appends go through the
//     source's transactional producer. From then on it starts no bundle
//     (cutHeld): an output produced now would be in this transaction
//     while the state change behind it would be in the next.
//  3. When the appends are acknowledged, and with them every batch the
//     checkpoint covers, the engine calls CutReady (cutReady); the source
//     ends the transaction (commit, or abort after a rebalance), begins
//     the next and sends Event{TxnEnded}, and the engine goes on.
//
// The local store then holds state the transaction may not have
// committed: under exactly-once a task's state is always restored from
// its changelog's committed records when its partition is assigned or
// taken up again after an abort (restoreFromLog), never taken from the
// local copy.

// checkpointDue reports whether a checkpoint is due, given that nothing
// runs.
func (e *engine) checkpointDue() bool {
	if e.syncCuts {
		return e.cutWanted && (e.quiet() || e.queuesLogged())
	}
	return e.checkpointing || e.draining && len(e.unsaved) > 0 && e.quiet()
}

// queuesLogged reports whether every queued element waits at a stage of
// a partition task with a changelog: a checkpoint then saves it where a
// restore on any process finds it.
func (e *engine) queuesLogged() bool {
	for _, s := range e.stages {
		if s.queued > 0 && (s.task == nil || e.logs[s.task.src] == nil) {
			return false
		}
	}
	return true
}

// afterCheckpoint holds the engine at a cut once its checkpoint is
// written, until the transaction ends.
func (e *engine) afterCheckpoint() {
	if !e.cutWanted {
		return
	}
	e.cutWanted, e.cutHeld, e.cutReadySent = false, true, false
	e.cutReady()
}

// cutReady tells the source the cut's checkpoint is in its transaction,
// once its appends are all acknowledged.
func (e *engine) cutReady() {
	if e.cutHeld && !e.cutReadySent && len(e.pendingAcks) == 0 && e.err == nil {
		e.cutReadySent = true
		e.txnSrc.CutReady()
	}
}

// onTxnEvent takes the framing of a transaction's end.
func (e *engine) onTxnEvent(ev kafkasource.Event) {
	switch {
	case !e.syncCuts:
	case ev.Cut:
		e.cutWanted = true
	case ev.TxnEnded:
		e.cutHeld = false
		if !ev.Committed {
			e.log.Warn("localrunner: transaction aborted; the partitions' state is restored from their changelogs' committed records")
		}
	}
}
