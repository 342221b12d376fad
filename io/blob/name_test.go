package blob

import (
	"strings"
	"testing"
	"time"
)

func TestTemplateName(t *testing.T) {
	f := NameFields{Step: "out", Time: time.Date(2026, 12, 7, 13, 4, 5, 6e6, time.FixedZone("x", 3600)),
		Partition: 3, Offset: 1200, Seq: 7, Random: "00ff", Key: []byte("web/app x")}
	for tmpl, want := range map[string]string{
		DefaultTemplate:                        "out/2026-12-07/12/3-1200-000007",
		"{time}-{unix_ms}.parquet":             "20261207T120405Z-1796645045006.parquet",
		"plain":                                "plain",
		"{random}.parquet":                     "00ff.parquet",
		"a{seq}b{partition}{offset}{step}/":    "a000007b31200out/",
		"{key}/{date}/{hour}-{minute}.parquet": "web%2Fapp%20x/2026-12-07/12-04.parquet",
	} {
		tp, err := ParseTemplate(tmpl)
		if err != nil {
			t.Fatalf("%q: %v", tmpl, err)
		}
		if got := tp.Name(f); got != want {
			t.Errorf("%q: %q, want %q", tmpl, got, want)
		}
	}
}

func TestParseTemplateRefuses(t *testing.T) {
	for tmpl, want := range map[string]string{
		"":           "empty object name template",
		"x/{day}":    "unknown field {day}; the fields are {date}, {hour}, {key}, {minute}, {offset}, {partition}, {random}",
		"x/{date":    "unclosed {",
		"{seq}{}.gz": "unknown field {}",
	} {
		_, err := ParseTemplate(tmpl)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error with %q", tmpl, err, want)
		}
	}
}

func TestTemplateHasRandom(t *testing.T) {
	a, _ := ParseTemplate(DefaultTemplate)
	b, _ := ParseTemplate("x/{random}")
	if a.HasRandom() || !b.HasRandom() {
		t.Errorf("HasRandom: default %v, x/{random} %v", a.HasRandom(), b.HasRandom())
	}
	if !a.Uses("seq") || b.Uses("seq") || !b.Uses("random") {
		t.Errorf("Uses: default seq %v, x/{random} seq %v random %v", a.Uses("seq"), b.Uses("seq"), b.Uses("random"))
	}
	if r1, r2 := RandomField(), RandomField(); len(r1) != 16 || r1 == r2 {
		t.Errorf("RandomField %q, %q", r1, r2)
	}
}
