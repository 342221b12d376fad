package localrunner

import "github.com/apache/beam/sdks/v2/go/pkg/beam"

// Beam finds runners by name in a process-wide registry filled by init
// functions (beam.RegisterRunner; beam.Run and ptest look names up there),
// and a second registration of a name panics. So this is the one place the
// local runner registers itself: importing the package is enough to make
// --runner=local work, as with Beam's own runners.
func init() {
	beam.RegisterRunner(Name, Execute)
}
