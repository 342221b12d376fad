package plan

import (
	"errors"
	"fmt"
)

// ErrUnsupported is matched (errors.Is) by every *UnsupportedError: the
// pipeline uses something the local runner does not execute yet.
var ErrUnsupported = errors.New("localrunner: unsupported")

// UnsupportedError names one transform the local runner refuses before
// running anything, and why.
type UnsupportedError struct {
	// Transform is the unique name of the refused transform.
	Transform string
	// Composite is the unique name of the innermost composite holding the
	// transform (for example the passert or CoGroupByKey that expanded into
	// it), or "" at top level.
	Composite string
	// URN is the transform's Beam URN.
	URN string
	// Reason says what is missing and when it arrives.
	Reason string
}

func (e *UnsupportedError) Error() string {
	where := fmt.Sprintf("%q", e.Transform)
	if e.Composite != "" && e.Composite != e.Transform {
		where += fmt.Sprintf(" (in %q)", e.Composite)
	}
	return fmt.Sprintf("localrunner: transform %s [%s] is not supported: %s", where, e.URN, e.Reason)
}

// Is reports whether target is ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Reasons given for refused transforms. The state issue is the next piece
// of work on the local runner: grouping, user state and timers in Pebble.
const (
	reasonTriggerMerging     = "triggers other than the default on merging (session) windows are not supported (trigger state is not merged)"
	reasonWindowExpiration   = "OnWindowExpiration is not supported by the local runner yet"
	reasonStatefulSDF        = "splittable DoFns with user state are not supported"
	reasonSorted             = "time-sorted input arrives with the state issue"
	reasonSDFSideInput       = "splittable DoFns with side inputs are not supported by the local runner yet"
	reasonUnboundedSideInput = "windowed side inputs from unbounded PCollections arrive with the state issue (they need per-window readiness)"
	reasonUnknown            = "the local runner does not know this transform"
)
