package blob

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultTemplate names objects by step, day and hour of the batch's
// first message, its source partition and offset, and the sequence: a
// batch written again after a crash gets the same name. Messages made
// by a Batch or a Reduce have no source position, so objects of them
// need {random} in their names (NeedsRandom).
const DefaultTemplate = "{step}/{date}/{hour}/{partition}-{offset}-{seq}"

// Fields are the placeholders a template may use, each in braces.
var Fields = []string{"date", "hour", "key", "minute", "offset", "partition", "random", "seq", "step", "time", "unix_ms"}

// NameFields are what an object name is made of.
type NameFields struct {
	Step string
	// Time is the event time of the batch's first message: {date}
	// (2006-01-02), {hour} (15), {minute} (04), {time}
	// (20060102T150405Z), {unix_ms}, all in UTC. A Reduce's result is
	// timestamped at its window's last instant, so these name its
	// window.
	Time time.Time
	// Key is the message key of the batch's first message ({key}),
	// path-escaped (url.PathEscape: a "/" in a key makes no directory);
	// a Reduce's result has its window's key.
	Key []byte
	// Partition and Offset are the source position of the batch's first
	// message ({partition}, {offset}).
	Partition int32
	Offset    int64
	// Seq counts the objects written for the batch's key (its source
	// partition), from 0 ({seq}, 6 digits at least).
	Seq int64
	// Random is 16 random hex digits ({random}), new for each object.
	Random string
}

// Template is a compiled object name template.
type Template struct {
	parts []part
}

// part is literal text, or a field when field is set.
type part struct {
	text  string
	field string
}

// ParseTemplate compiles s: text with fields in braces, such as
// "events/{date}/{partition}-{offset}.json". An unknown field, an
// unclosed brace or an empty template is an error.
func ParseTemplate(s string) (Template, error) {
	if s == "" {
		return Template{}, fmt.Errorf("blob: empty object name template")
	}
	var t Template
	for rest := s; rest != ""; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			t.parts = append(t.parts, part{text: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{text: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return Template{}, fmt.Errorf("blob: object name template %q: unclosed {", s)
		}
		f := rest[i+1 : i+j]
		if !slices.Contains(Fields, f) {
			return Template{}, fmt.Errorf("blob: object name template %q: unknown field {%s}; the fields are {%s}", s, f, strings.Join(Fields, "}, {"))
		}
		t.parts = append(t.parts, part{field: f})
		rest = rest[i+j+1:]
	}
	return t, nil
}

// HasRandom reports whether the template uses {random}.
func (t Template) HasRandom() bool { return t.Uses("random") }

// Uses reports whether the template uses field (one of Fields, without
// braces).
func (t Template) Uses(field string) bool {
	return slices.ContainsFunc(t.parts, func(p part) bool { return p.field == field })
}

// RandomField returns a value for NameFields.Random.
func RandomField() string {
	return fmt.Sprintf("%016x", rand.Uint64())
}

// Name fills the template from f.
func (t Template) Name(f NameFields) string {
	var b strings.Builder
	ts := f.Time.UTC()
	for _, p := range t.parts {
		switch p.field {
		case "":
			b.WriteString(p.text)
		case "step":
			b.WriteString(f.Step)
		case "date":
			b.WriteString(ts.Format("2006-01-02"))
		case "hour":
			b.WriteString(ts.Format("15"))
		case "minute":
			b.WriteString(ts.Format("04"))
		case "key":
			b.WriteString(url.PathEscape(string(f.Key)))
		case "time":
			b.WriteString(ts.Format("20060102T150405Z"))
		case "unix_ms":
			b.WriteString(strconv.FormatInt(ts.UnixMilli(), 10))
		case "partition":
			b.WriteString(strconv.Itoa(int(f.Partition)))
		case "offset":
			b.WriteString(strconv.FormatInt(f.Offset, 10))
		case "seq":
			fmt.Fprintf(&b, "%06d", f.Seq)
		case "random":
			b.WriteString(f.Random)
		}
	}
	return b.String()
}
