package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a deployment config: where it is and
// what is wrong. Line and Column are 1-based and zero when unknown (a
// config built in Go rather than read from YAML has no positions).
type Problem struct {
	// File is the config file's name as given to [Load]; empty for [Parse].
	File string
	// Line and Column locate the offending key or value in File.
	Line, Column int
	// Path names the offending entry, e.g.
	// pipeline.segments[0].steps_config.myinput.auto_offset_reset.
	// Keys that are not plain identifiers are quoted:
	// override_params["security.protocol"].
	Path string
	// Msg says what is wrong, in lower case.
	Msg string
	// Err is the underlying cause when there is one: [ErrEnvVarNotSet]
	// for a missing environment variable, or the error returned by
	// clientconf.CheckProperty for a bad override_params entry.
	Err error
}

// Error formats the problem as file:line:col: path: message, leaving out
// the parts that are unknown.
func (p *Problem) Error() string {
	var b strings.Builder
	loc := p.File
	if p.Line > 0 {
		if loc != "" {
			loc += ":"
		}
		loc += strconv.Itoa(p.Line)
		if p.Column > 0 {
			loc += ":" + strconv.Itoa(p.Column)
		}
	}
	if loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (p *Problem) Unwrap() error { return p.Err }

// Error is every problem found in a deployment config. [Parse], [Load],
// [Config.Validate] and [Config.Segment] return their problems as an
// *Error, never one at a time.
type Error struct {
	// Problems are sorted by line and column; problems without a
	// position come last, in the order they were found.
	Problems []Problem
}

// Error prints one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i := range e.Problems {
		lines[i] = e.Problems[i].Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns each problem as an error (a *[Problem]), so errors.Is and
// errors.As see every problem and its cause.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i := range e.Problems {
		errs[i] = &e.Problems[i]
	}
	return errs
}

// errorOf returns the problems as an *Error, or nil when there are none.
// The problems are sorted by position; ties keep the order they were found
// in, so the result is deterministic when the finding was.
func errorOf(file string, ps []Problem) error {
	if len(ps) == 0 {
		return nil
	}
	out := slices.Clone(ps)
	for i := range out {
		if out[i].File == "" {
			out[i].File = file
		}
	}
	slices.SortStableFunc(out, func(a, b Problem) int {
		// Positionless problems sort last.
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	out = slices.CompactFunc(out, func(a, b Problem) bool {
		return a.Line == b.Line && a.Column == b.Column && a.Path == b.Path && a.Msg == b.Msg
	})
	return &Error{Problems: out}
}

// pos is where a key and its value are in the file.
type pos struct {
	keyLine, keyCol int
	valLine, valCol int
}

// join appends a mapping key to a path, quoting keys that are not plain
// identifiers so that a key with dots cannot be mistaken for nesting.
func join(path, key string) string {
	if !isIdent(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// index appends a list index to a path.
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// didYouMean returns ` (did you mean "x"?)` naming the candidate closest
// to s, or "" when none is close enough to be a plausible typo.
func didYouMean(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if best == "" || d < bestD || d == bestD && c < best {
			best, bestD = c, d
		}
	}
	limit := max(1, min(3, (len(s)+2)/3))
	if best == "" || bestD > limit || bestD == 0 && best == s {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal string alignment distance between a and b
// (Levenshtein plus transposition of adjacent bytes).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Long strings are never typos of our short keys; keep the
		// fuzzer's giant keys cheap.
		return max(len(a), len(b))
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+c)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
