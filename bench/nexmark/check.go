package nexmark

import (
	"fmt"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Digest is an order-independent digest of a query's output: the number
// of elements and the sum of a hash of each with its window. Equal
// multisets of (window, element) give equal digests.
type Digest struct {
	Count int64
	Sum   uint64
}

func (d Digest) String() string { return fmt.Sprintf("%d elements, sum %016x", d.Count, d.Sum) }

// add adds an element of hash h in the window whose last instant is
// maxTs (milliseconds).
func (d *Digest) add(h uint64, maxTs int64) {
	d.Count++
	d.Sum += uint64(hasher(h).int(maxTs))
}

// hashed is what every query output implements.
type hashed interface{ Hash() uint64 }

// Check ends a query's output in a sink that adds each element to the
// digest of run, which TakeDigest returns once the pipeline is done.
// The elements must be query outputs (they have a Hash method).
//
// The digests live in this process: Check serves runners whose DoFns run
// in it (the bundled runner; prism in process, whose workers are
// loopback).
func Check(s beam.Scope, run string, col beam.PCollection) {
	beam.ParDo0(s.Scope("nexmark.Check"), &checkFn{Run: run}, col)
}

// TakeDigest returns the digest of run's elements and forgets it.
func TakeDigest(run string) Digest {
	digests.mu.Lock()
	defer digests.mu.Unlock()
	d := digests.m[run]
	delete(digests.m, run)
	return d
}

// digests holds the digests of Check sinks by run: a sink's DoFn is
// rebuilt by the runner from its serialized form, so a process-wide table
// is the only place its outputs can reach the caller. Guarded by mu.
var digests = struct {
	mu sync.Mutex
	m  map[string]Digest
}{m: map[string]Digest{}}

type checkFn struct {
	Run string
	d   Digest
}

func (f *checkFn) StartBundle() { f.d = Digest{} }

func (f *checkFn) ProcessElement(w beam.Window, v beam.X) error {
	h, ok := v.(hashed)
	if !ok {
		return fmt.Errorf("nexmark: %T is not a query output", v)
	}
	f.d.add(h.Hash(), int64(w.MaxTimestamp()))
	return nil
}

func (f *checkFn) FinishBundle() {
	digests.mu.Lock()
	defer digests.mu.Unlock()
	d := digests.m[f.Run]
	d.Count += f.d.Count
	d.Sum += f.d.Sum
	digests.m[f.Run] = d
	f.d = Digest{}
}
