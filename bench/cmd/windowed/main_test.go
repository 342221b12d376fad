package main

import (
	"slices"
	"testing"
)

func TestParseModes(t *testing.T) {
	for _, c := range []struct {
		list, before string
		want         []string // nil: an error
	}{
		{"local,franz", "", []string{"local", "franz"}},
		{"local,local2,franz", "/old", []string{"local", "local-before", "local2", "franz"}},
		{"franz,local", "/old", []string{"franz", "local", "local-before"}},
		{"franz", "/old", []string{"local-before", "franz"}},
		{"local-before,local", "/old", []string{"local-before", "local"}},
		{"local,local-before", "", nil},
		{"local,nope", "/old", nil},
	} {
		got, err := parseModes(c.list, c.before)
		if c.want == nil {
			if err == nil {
				t.Errorf("parseModes(%q, %q) = %v, want an error", c.list, c.before, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("parseModes(%q, %q) = %v, %v, want %v", c.list, c.before, got, err, c.want)
		}
	}
}
