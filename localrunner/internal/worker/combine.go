package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime/debug"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/funcx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/coder"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/exec"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/util/reflectx"

	"github.com/streams-dev/streams/internal/contract"
	"github.com/streams-dev/streams/localrunner/internal/plan"
)

// Combiner runs the accumulator methods of a combining GroupByKey's
// CombineFn (plan.Combine) for the runner's buffer (group.Combiner): the
// SDK's combine semantics (exec.Combine) without a bundle around them.
// CreateAccumulator, AddInput and MergeAccumulators may take a
// context.Context and return an error; without CreateAccumulator the zero
// accumulator is used, without AddInput the first value is the
// accumulator and later ones are merged into it. Setup runs in
// NewCombiner, Teardown in Close. A Combiner is not safe for concurrent
// use.
type Combiner struct {
	stage *plan.Stage
	name  string
	fn    *graph.CombineFn
	ctx   context.Context

	create, add, merge *invoker
	// addEncoded is the CombineFn as an EncodedCombineFn, when it is one
	// for the values' coder.
	addEncoded EncodedCombineFn
	// addValue is the CombineFn as a ValueCombineFn, when it is one.
	addValue contract.ValueCombineFn
	zero     any // the zero accumulator, without CreateAccumulator
	convert  func(any) any

	values exec.ElementDecoder
	accDec exec.ElementDecoder
	accEnc exec.ElementEncoder
	r      bytes.Reader
	fv     exec.FullValue
	in     exec.FullValue // the input value Add decodes
}

// EncodedCombineFn is implemented by CombineFns that add inputs to an
// accumulator from their encoding (contract.EncodedCombineFn).
type EncodedCombineFn = contract.EncodedCombineFn

// NewCombiner decodes the CombineFn of a combining GroupByKey stage and
// runs its Setup.
func NewCombiner(ctx context.Context, s *plan.Stage) (c *Combiner, err error) {
	spec := s.Group.Combine
	c = &Combiner{stage: s, name: spec.Name, ctx: ctx}
	fn, err := plan.DecodeCombineFn(spec.Payload)
	if err != nil {
		return nil, fmt.Errorf("localrunner: combine %q: %w", spec.Name, err)
	}
	c.fn = fn
	if f := fn.CreateAccumulatorFn(); f != nil {
		c.create = newInvoker(f)
	} else {
		c.zero = reflect.Zero(fn.MergeAccumulatorsFn().Ret[0].T).Interface()
	}
	if f := fn.AddInputFn(); f != nil {
		c.add = newInvoker(f)
	}
	c.merge = newInvoker(fn.MergeAccumulatorsFn())
	kv := coder.SkipW(s.Group.Coder)
	c.values = exec.MakeElementDecoder(kv.Components[1])
	if e, ok := fn.Recv.(EncodedCombineFn); ok && c.add != nil && e.AddEncodedInputFor(kv.Components[1]) {
		c.addEncoded = e
	}
	if v, ok := fn.Recv.(contract.ValueCombineFn); ok && c.add != nil {
		c.addValue = v
	}
	c.accDec = exec.MakeElementDecoder(spec.Accumulator)
	c.accEnc = exec.MakeElementEncoder(spec.Accumulator)
	if f := fn.SetupFn(); f != nil {
		if _, err := c.guard("Setup", func() (any, error) { return newInvoker(f).call(ctx) }); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Add adds an encoded input value to acc (group.Combiner).
func (c *Combiner) Add(acc any, first bool, value []byte) (any, error) {
	return c.guard("AddInput", func() (any, error) {
		if c.addEncoded != nil {
			if first {
				var err error
				if acc, err = c.newAccumulator(); err != nil {
					return nil, err
				}
			}
			return c.addEncoded.AddEncodedInput(acc, value)
		}
		c.r.Reset(value)
		v := &c.in
		err := c.values.DecodeTo(&c.r, v)
		if err != nil {
			return nil, fmt.Errorf("decoding an input value: %w", err)
		}
		if c.add == nil { // merge only: values are accumulators
			if first {
				return v.Elm, nil
			}
			return c.merge.call(c.ctx, acc, v.Elm)
		}
		if first {
			if acc, err = c.newAccumulator(); err != nil {
				return nil, err
			}
		}
		if c.convert == nil {
			c.convert = exec.ConvertFn(reflect.TypeOf(v.Elm), c.add.params[1])
		}
		return c.add.call(c.ctx, acc, c.convert(v.Elm))
	})
}

// AddValue adds an input handed over as a Go value to acc
// (group.ValueCombiner): only a ValueCombineFn takes them.
func (c *Combiner) AddValue(acc any, first bool, value any) (any, error) {
	if c.addValue == nil {
		return nil, fmt.Errorf("localrunner: combine %q: %s takes no values", c.name, c.fn.Name())
	}
	return c.guard("AddInput", func() (any, error) {
		if first {
			var err error
			if acc, err = c.newAccumulator(); err != nil {
				return nil, err
			}
		}
		return c.addValue.AddValueInput(acc, value)
	})
}

func (c *Combiner) newAccumulator() (any, error) {
	if c.create == nil {
		return c.zero, nil
	}
	return c.create.call(c.ctx)
}

// Merge merges two accumulators (group.Combiner).
func (c *Combiner) Merge(a, b any) (any, error) {
	return c.guard("MergeAccumulators", func() (any, error) { return c.merge.call(c.ctx, a, b) })
}

// Encode appends an accumulator's encoding (group.Combiner).
func (c *Combiner) Encode(acc any, w *bytes.Buffer) error {
	_, err := c.guard("encoding an accumulator", func() (any, error) {
		c.fv = exec.FullValue{Elm: acc}
		return nil, c.accEnc.Encode(&c.fv, w)
	})
	return err
}

// Decode reads an encoded accumulator (group.Combiner).
func (c *Combiner) Decode(r io.Reader) (any, error) {
	return c.guard("decoding an accumulator", func() (any, error) {
		v, err := c.accDec.Decode(r)
		if err != nil {
			return nil, err
		}
		return v.Elm, nil
	})
}

// Close runs the CombineFn's Teardown.
func (c *Combiner) Close() error {
	f := c.fn.TeardownFn()
	if f == nil {
		return nil
	}
	_, err := c.guard("Teardown", func() (any, error) { return newInvoker(f).call(c.ctx) })
	return err
}

// guard runs a call into the CombineFn, turning its error or panic into a
// *TransformError naming the combine.
func (c *Combiner) guard(what string, f func() (any, error)) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, panicError(c.stage, c.name, what+" of "+c.fn.Name(), r)
		}
	}()
	v, err = f()
	if err != nil {
		return nil, callError(c.stage, c.name, what+" of "+c.fn.Name(), err)
	}
	return v, nil
}

// panicError is the *TransformError of user code in transform (a unique
// name) of stage s that panicked with r during call, called in the
// deferred recover.
func panicError(s *plan.Stage, transform, call string, r any) *TransformError {
	stack := debug.Stack()
	cause := fmt.Sprint(r)
	if site := panicSite(string(stack)); site != "" {
		cause += " (at " + site + ")"
	}
	return &TransformError{
		Transform: transform, Stage: s.ID, Transforms: s.Names, Panic: true,
		Cause: cause,
		Err:   fmt.Errorf("%s: panic: %v\n%s", call, r, stack),
	}
}

// callError is err, which user code in transform of stage s returned
// from call, as a *TransformError (unless it is one).
func callError(s *plan.Stage, transform, call string, err error) error {
	var te *TransformError
	if errors.As(err, &te) {
		return err
	}
	return &TransformError{
		Transform: transform, Stage: s.ID, Transforms: s.Names,
		Cause: err.Error(),
		Err:   fmt.Errorf("%s: %w", call, err),
	}
}

// invoker calls a CombineFn method: its context and value parameters
// filled in, its error returned.
type invoker struct {
	fn     reflectx.Func
	args   []any
	ctxAt  int
	vals   []int          // positions of the value parameters
	params []reflect.Type // their types
	valAt  int            // -1 without a value result
	errAt  int            // -1 without an error result
}

func newInvoker(f *funcx.Fn) *invoker {
	inv := &invoker{fn: f.Fn, args: make([]any, len(f.Param)), ctxAt: -1, valAt: -1, errAt: -1}
	if at, ok := f.Context(); ok {
		inv.ctxAt = at
	}
	for _, at := range f.Params(funcx.FnValue) {
		inv.vals = append(inv.vals, at)
		inv.params = append(inv.params, f.Param[at].T)
	}
	if at, ok := f.Error(); ok {
		inv.errAt = at
	}
	if rs := f.Returns(funcx.RetValue); len(rs) > 0 {
		inv.valAt = rs[0]
	}
	return inv
}

func (inv *invoker) call(ctx context.Context, vals ...any) (any, error) {
	if len(vals) != len(inv.vals) {
		return nil, fmt.Errorf("%s takes %d values, given %d", inv.fn.Name(), len(inv.vals), len(vals))
	}
	if inv.ctxAt >= 0 {
		inv.args[inv.ctxAt] = ctx
	}
	for i, at := range inv.vals {
		inv.args[at] = vals[i]
	}
	ret := inv.fn.Call(inv.args)
	clear(inv.args)
	if inv.errAt >= 0 && ret[inv.errAt] != nil {
		return nil, ret[inv.errAt].(error)
	}
	if inv.valAt < 0 {
		return nil, nil
	}
	return ret[inv.valAt], nil
}
