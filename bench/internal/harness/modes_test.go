package harness

import (
	"slices"
	"testing"
)

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

func TestSharedModes(t *testing.T) {
	ms := Modes{Local, LocalEOS, Franz, Prism}
	got, err := ms.Parse("local,local-eos,franz,prism")
	if err != nil || len(got) != 4 {
		t.Fatalf("Parse = %v, %v", got, err)
	}
	if ms.Label("prism") != "(c) runner --adapter beam (prism)" || ms.Label("local") != "(a) runner --adapter local" {
		t.Errorf("labels: %v", ms)
	}
}

func TestNeedsBinary(t *testing.T) {
	for _, c := range []struct {
		keys []string
		bin  string
		ok   bool
	}{
		{[]string{"local"}, "", true},
		{[]string{"local", "local-alt"}, "/x", true},
		{[]string{"local", "local-alt"}, "", false},
		{[]string{"local"}, "/x", false},
	} {
		err := NeedsBinary(c.keys, "local-alt", "-local-bin-alt", c.bin)
		if (err == nil) != c.ok {
			t.Errorf("NeedsBinary(%v, %q) = %v", c.keys, c.bin, err)
		}
		if err != nil && err.Error() != "mode local-alt and -local-bin-alt go together" {
			t.Errorf("error %q", err)
		}
	}
}
