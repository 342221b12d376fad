package harness

import (
	"fmt"
	"slices"
	"strings"
)

// Mode is one way of running a benchmark's workload.
type Mode struct {
	Key   string // flag value
	Label string // table label
}

// The modes the benchmarks share: each command runs its own pipeline
// these ways, under the same labels in every report.
var (
	Local    = Mode{Key: "local", Label: "(a) runner --adapter local"}
	LocalEOS = Mode{Key: "local-eos", Label: "(a+x) (a) with processing_guarantee: exactly_once"}
	Franz    = Mode{Key: "franz", Label: "(b) hand-written franz-go"}
	Prism    = Mode{Key: "prism", Label: "(c) runner --adapter beam (prism)"}
)

// Modes are a benchmark's modes, in the order of its tables.
type Modes []Mode

// Label is the label of the mode key, or key if there is none.
func (ms Modes) Label(key string) string {
	for _, m := range ms {
		if m.Key == key {
			return m.Label
		}
	}
	return key
}

// Parse parses a comma-separated list of mode keys, such as a -modes
// flag's value.
func (ms Modes) Parse(list string) ([]string, error) {
	var keys []string
	for k := range strings.SplitSeq(list, ",") {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		if ms.Label(k) == k {
			return nil, fmt.Errorf("unknown mode %q (want %s)", k, ms.keys())
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no mode (want some of %s)", ms.keys())
	}
	return keys, nil
}

func (ms Modes) keys() string {
	ks := make([]string, len(ms))
	for i, m := range ms {
		ks[i] = m.Key
	}
	return strings.Join(ks, ", ")
}

// NeedsBinary checks that the mode keys hold mode exactly when bin, the
// value of the flag named flagName, is set: a mode that runs a binary
// built elsewhere.
func NeedsBinary(keys []string, mode, flagName, bin string) error {
	if slices.Contains(keys, mode) != (bin != "") {
		return fmt.Errorf("mode %s and %s go together", mode, flagName)
	}
	return nil
}
