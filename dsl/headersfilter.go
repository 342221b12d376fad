package dsl

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// HeadersFilter keeps the messages with a header named header whose value
// is one of values, as Sentry Streams' HeadersFilter does: a header's
// value is an integer written in decimal, as text (an optional sign, then
// digits: "42", "-1", "+7"). Every header of that name is read; a message
// is
//
//   - kept when one of them holds one of values;
//   - dropped when none does: the message has no such header, only empty
//     values, or other integers;
//   - rejected, as a Map's error rejects it (the dead-letter queue, with
//     the cause), when a non-empty value is not a decimal integer ("abc",
//     " 1", "1.5", one beyond int64), even if another holds a match.
//
// The payload is not looked at, so T is any type, and the step runs in
// the chain of steps around it, as Filter does. Headers travel with a
// message from its Kafka record unless a step changes them, so the step
// may stand anywhere in a pipeline. An empty header name, or no values,
// is a Build error.
func HeadersFilter[T any](header string, values ...int64) Step[T, T] {
	switch {
	case header == "":
		return Step[T, T]{err: errors.New("headers filter: the header name is empty")}
	case len(values) == 0:
		return Step[T, T]{err: fmt.Errorf("headers filter: no values to keep for header %q", header)}
	}
	want := slices.Clone(values)
	return Step[T, T]{kind: KindFilter, process: func(in Any, emit func(Any)) error {
		keep, err := headerHolds(in.Headers, header, want)
		if err != nil {
			return err
		}
		if keep {
			emit(in)
		}
		return nil
	}}
}

// headerHolds reports whether a header named name holds one of values as
// a decimal integer; it is an error for a non-empty value of that header
// not to be one.
func headerHolds(hs []Header, name string, values []int64) (bool, error) {
	found := false
	for _, h := range hs {
		if h.Key != name || len(h.Value) == 0 {
			continue
		}
		n, err := strconv.ParseInt(string(h.Value), 10, 64)
		if err != nil {
			return false, fmt.Errorf("header %s: value %q is not a decimal integer", name, h.Value)
		}
		found = found || slices.Contains(values, n)
	}
	return found, nil
}
