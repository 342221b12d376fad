package conformance_test

import "testing"

// TestCrashExactlyOnce is TestCrashLosesNothing with
// processing_guarantee exactly_once: five kills with SIGKILL while
// records move, each run starting while the killed one still holds its
// partitions and its open transaction, and a read_committed reader must
// see every input message exactly once.
func TestCrashExactlyOnce(t *testing.T) {
	r := crashCopy(t, "eos", true)
	if r.missing != 0 || r.dups != 0 {
		t.Errorf("exactly-once: %d missing, %d duplicates; want none", r.missing, r.dups)
	}
}
