package observe

import (
	"slices"
	"testing"
)

func TestRing(t *testing.T) {
	r := newRing[int](3)
	if got := r.values(); len(got) != 0 || r.len() != 0 {
		t.Fatalf("empty ring holds %v", got)
	}
	for i, want := range [][]int{{1}, {1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 5}, {4, 5, 6}, {5, 6, 7}} {
		r.push(i + 1)
		if got := r.values(); !slices.Equal(got, want) || r.len() != len(want) {
			t.Errorf("after pushing 1..%d: %v (len %d), want %v", i+1, got, r.len(), want)
		}
	}
	if len(r.buf) != 3 {
		t.Errorf("the ring grew to %d", len(r.buf))
	}
	// values is a copy: changing it does not change the ring.
	v := r.values()
	v[0] = 100
	if got := r.values(); got[0] != 5 {
		t.Errorf("values shares the ring's memory: %v", got)
	}
}

func TestRingOfOne(t *testing.T) {
	r := newRing[string](0) // at least one
	r.push("a")
	r.push("b")
	if got := r.values(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("got %v, want [b]", got)
	}
}
