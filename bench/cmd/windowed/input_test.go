package main

import "testing"

func TestInputCommitted(t *testing.T) {
	in := newInput()
	in.counts[0], in.counts[1] = 10, 20
	for _, c := range []struct {
		offsets map[int32]int64
		n       int64
		all     bool
	}{
		{nil, 0, false},
		{map[int32]int64{0: 10, 1: 19}, 29, false},
		// A partition past its events (its closing record committed) does
		// not make up for another one short of them.
		{map[int32]int64{0: 11, 1: 19}, 29, false},
		{map[int32]int64{0: 10, 1: 21}, 30, true},
	} {
		if n, all := in.committed(c.offsets); n != c.n || all != c.all {
			t.Errorf("committed(%v) = %d, %v, want %d, %v", c.offsets, n, all, c.n, c.all)
		}
	}
}
