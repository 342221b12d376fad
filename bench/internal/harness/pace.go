package harness

import (
	"context"
	"time"
)

// Pace calls emit(0), emit(1), … at rate calls per second for d, catching
// up every tick, and returns how many calls it made: the loop that
// produces a steady input. It stops early with ctx's error.
func Pace(ctx context.Context, rate int, d, tick time.Duration, emit func(i int)) (int, error) {
	start := time.Now()
	t := time.NewTicker(tick)
	defer t.Stop()
	n := 0
	for {
		elapsed := time.Since(start)
		if elapsed >= d {
			return n, nil
		}
		for due := int(elapsed.Seconds() * float64(rate)); n < due; n++ {
			emit(n)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-t.C:
		}
	}
}
