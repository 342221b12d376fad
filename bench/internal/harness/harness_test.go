package harness

import (
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(c.xs); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

func TestRotate(t *testing.T) {
	xs := []string{"a", "b", "c"}
	for r, want := range [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}, {"a", "b", "c"}} {
		if got := Rotate(xs, r); !slices.Equal(got, want) {
			t.Errorf("Rotate(%v, %d) = %v, want %v", xs, r, got, want)
		}
	}
	if xs[0] != "a" {
		t.Errorf("Rotate modified its argument: %v", xs)
	}
}

func TestModes(t *testing.T) {
	ms := Modes{{Key: "local", Label: "(a)"}, {Key: "franz", Label: "(b)"}}
	got, err := ms.Parse(" franz, local,")
	if err != nil || !slices.Equal(got, []string{"franz", "local"}) {
		t.Errorf("Parse = %v, %v", got, err)
	}
	for _, bad := range []string{"", "local,prism"} {
		if _, err := ms.Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	if ms.Label("franz") != "(b)" || ms.Label("x") != "x" {
		t.Error("Label")
	}
}
