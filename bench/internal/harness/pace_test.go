package harness

import (
	"context"
	"testing"
	"time"
)

func TestPace(t *testing.T) {
	var got []int
	n, err := Pace(context.Background(), 1000, 50*time.Millisecond, time.Millisecond, func(i int) { got = append(got, i) })
	if err != nil {
		t.Fatal(err)
	}
	// Due is rate times the time elapsed, short of d: at most 49.
	if n != len(got) || n < 1 || n > 49 {
		t.Fatalf("Pace = %d with %d calls, want 1 to 49", n, len(got))
	}
	for i, g := range got {
		if g != i {
			t.Fatalf("call %d was emit(%d)", i, g)
		}
	}
}

func TestPaceCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := Pace(ctx, 1000, time.Hour, time.Hour, func(int) {})
	if err != context.Canceled || n != 0 {
		t.Errorf("Pace = %d, %v, want 0, context.Canceled", n, err)
	}
}
