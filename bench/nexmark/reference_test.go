package nexmark

import (
	"slices"
	"testing"
)

func TestWindows(t *testing.T) {
	if got := fixedMax(10_500, 10_000); got != 19_999 {
		t.Errorf("fixedMax(10500) = %d, want 19999", got)
	}
	if got := slidingMaxes(12_000, 10_000, 5_000); !slices.Equal(got, []int64{19_999, 14_999}) {
		t.Errorf("slidingMaxes(12000) = %v, want [19999 14999]", got)
	}
	if got := slidingMaxes(10_000, 10_000, 5_000); !slices.Equal(got, []int64{19_999, 14_999}) {
		t.Errorf("slidingMaxes(10000) = %v, want [19999 14999]", got)
	}
}
