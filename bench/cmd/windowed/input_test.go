package main

import (
	"testing"
	"time"

	"github.com/streams-dev/streams/bench/internal/window"
)

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

func TestInputClosed(t *testing.T) {
	in := newInput()
	base := backlogBase // a window boundary
	// Both partitions reach 0.5 s past the end of the first window.
	for i, ts := range []time.Time{base, base.Add(window.Size + 500*time.Millisecond)} {
		for part := range int32(2) {
			e, _ := window.Make(i*2 + int(part))
			in.want.Add(e, ts)
			in.newest[part] = ts
		}
	}
	if got := len(in.closed(0)); got != 2 {
		t.Errorf("closed(0): %d results, want the first window's 2", got)
	}
	if got := len(in.closed(time.Second)); got != 0 {
		t.Errorf("closed(1s): %d results, want none: the watermark is 0.5 s short of the first window's end", got)
	}
}
