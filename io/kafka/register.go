package kafka

import (
	"context"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

// Beam forces this init: a Go worker rebuilds DoFns from the pipeline by
// type name, so every DoFn, emitter, element type and coder must be
// registered before beam.Init runs, that is, at package initialisation.
// Registering also spares the SDK reflection (and stripped binaries need
// it). It is the only init with side effects in this package.
func init() {
	register.DoFn3x1[context.Context, []byte, func(partitionDesc), error](&listFn{})
	register.Emitter1[partitionDesc]()
	beam.RegisterType(reflect.TypeFor[partitionDesc]())

	register.DoFn5x2[context.Context, *watermarkEstimator, *sdf.LockRTracker, partitionDesc,
		func(beam.EventTime, Record), sdf.ProcessContinuation, error](&readFn{})
	register.Emitter2[beam.EventTime, Record]()

	register.DoFn2x1[context.Context, Record, error](&writeFn{})

	beam.RegisterCoder(reflect.TypeFor[Record](), encodeRecord, decodeRecord)
	// Registered callers spare the coder reflect.Value.Call per element.
	register.Function1x2(encodeRecord)
	register.Function1x2(decodeRecord)
}
