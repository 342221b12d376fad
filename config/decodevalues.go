package config

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Typed values: what a key holds, read with its place for problems.

func (d *decoder) typeProblem(n *yaml.Node, path, want string) {
	if d.failed[n] {
		d.bad[path] = true
		return
	}
	msg := "must be " + want + "; got " + describe(n)
	if want == "a string" && n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
		msg += " (quote it to make it a string)"
	}
	d.problem(n, path, nil, "%s", msg)
}

// oneOf reads a string that must be one of choices.
func (d *decoder) oneOf(n *yaml.Node, path string, choices []string) (string, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return "", false
	}
	if !slices.Contains(choices, s) {
		d.problem(n, path, nil, "must be one of %s; got %q%s", strings.Join(choices, ", "), s, didYouMean(s, choices))
		return "", false
	}
	return s, true
}

func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n != nil && n.Kind == yaml.ScalarNode && !d.failed[n] && n.ShortTag() == "!!str" {
		return n.Value, true
	}
	d.typeProblem(n, path, "a string")
	return "", false
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	if n != nil && n.Kind == yaml.ScalarNode && !d.failed[n] {
		if d.subst[n] {
			if b, err := strconv.ParseBool(strings.TrimSpace(n.Value)); err == nil {
				return b, true
			}
		} else if n.ShortTag() == "!!bool" {
			var b bool
			if err := n.Decode(&b); err == nil {
				return b, true
			}
		}
	}
	d.typeProblem(n, path, "true or false")
	return false, false
}

func (d *decoder) integer(n *yaml.Node, path string) (int, bool) {
	if n != nil && n.Kind == yaml.ScalarNode && !d.failed[n] {
		if d.subst[n] {
			i, err := strconv.Atoi(strings.TrimSpace(n.Value))
			if err == nil {
				return i, true
			}
		} else if n.ShortTag() == "!!int" {
			var i int
			if err := n.Decode(&i); err == nil {
				return i, true
			}
			d.problem(n, path, nil, "integer %s is out of range", n.Value)
			return 0, false
		}
	}
	d.typeProblem(n, path, "an integer")
	return 0, false
}

func (d *decoder) number(n *yaml.Node, path string) (float64, bool) {
	if n != nil && n.Kind == yaml.ScalarNode && !d.failed[n] {
		var f float64
		var err error
		switch {
		case d.subst[n]:
			f, err = strconv.ParseFloat(strings.TrimSpace(n.Value), 64)
		case n.ShortTag() == "!!int" || n.ShortTag() == "!!float":
			err = n.Decode(&f)
		default:
			err = errors.New("not a number")
		}
		if err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	d.typeProblem(n, path, "a number")
	return 0, false
}

// millis reads a number of milliseconds.
func (d *decoder) millis(n *yaml.Node, path string) (time.Duration, bool) {
	f, ok := d.number(n, path)
	if !ok {
		return 0, false
	}
	return d.duration(n, path, f*float64(time.Millisecond))
}

// seconds reads a number of seconds.
func (d *decoder) seconds(n *yaml.Node, path string) (time.Duration, bool) {
	f, ok := d.number(n, path)
	if !ok {
		return 0, false
	}
	return d.duration(n, path, f*float64(time.Second))
}

// duration converts nanoseconds, reporting values a Duration cannot hold.
func (d *decoder) duration(n *yaml.Node, path string, ns float64) (time.Duration, bool) {
	if math.Abs(ns) >= math.MaxInt64 {
		d.problem(n, path, nil, "duration is out of range (at most about 292 years)")
		return 0, false
	}
	return time.Duration(math.Round(ns)), true
}

// strings reads a list of strings, or one comma-separated string.
func (d *decoder) strings(n *yaml.Node, path string, depth int) ([]string, bool) {
	n = resolve(n)
	if n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && !d.failed[n] {
		parts := strings.Split(n.Value, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		if len(parts) == 1 && parts[0] == "" {
			return []string{}, true
		}
		return parts, true
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		d.typeProblem(n, path, "a list of strings or a comma-separated string")
		return nil, false
	}
	if !d.visit(n, path, depth) {
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, c := range n.Content {
		c = resolve(c)
		p := index(path, i)
		d.pos[p] = position(c, c)
		s, good := d.str(c, p)
		ok = ok && good
		out = append(out, strings.TrimSpace(s))
	}
	return out, ok
}

// stringMap reads a mapping whose values are scalars, kept as written
// (override_params: max.poll.interval.ms: 300000 is "300000").
func (d *decoder) stringMap(n *yaml.Node, path string, depth int) (map[string]string, bool) {
	entries, ok := d.mapping(n, path, depth)
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		if e.val == nil || e.val.Kind != yaml.ScalarNode || e.val.ShortTag() == "!!null" || d.failed[e.val] {
			d.typeProblem(e.val, e.path, "a string")
			ok = false
			continue
		}
		out[e.key] = e.val.Value
	}
	return out, ok
}

// freeMap reads a free-form mapping.
func (d *decoder) freeMap(n *yaml.Node, path string, depth int) map[string]any {
	entries, ok := d.mapping(n, path, depth)
	if !ok {
		return nil
	}
	out := make(map[string]any, len(entries))
	for _, e := range entries {
		out[e.key] = d.anyValue(e.val, e.path, depth+1)
	}
	return out
}

// anyValue reads a free-form value.
func (d *decoder) anyValue(n *yaml.Node, path string, depth int) any {
	n = resolve(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		return d.freeMap(n, path, depth)
	case yaml.SequenceNode:
		if !d.visit(n, path, depth) {
			return nil
		}
		// Count the elements too: an alias list of aliases is the
		// classic exponential document.
		d.visits += len(n.Content)
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = d.anyValue(c, index(path, i), depth+1)
		}
		return out
	case yaml.ScalarNode:
		if d.subst[n] || d.failed[n] {
			return n.Value
		}
		switch n.ShortTag() {
		case "!!null":
			return nil
		case "!!bool":
			var b bool
			if n.Decode(&b) == nil {
				return b
			}
		case "!!int":
			var i int
			if n.Decode(&i) == nil {
				return i
			}
		case "!!float":
			var f float64
			if n.Decode(&f) == nil {
				return f
			}
		}
		return n.Value
	}
	return nil
}

// timedelta reads Python timedelta keyword arguments ({seconds: 20}) or
// a Go duration string ("20s").
func (d *decoder) timedelta(n *yaml.Node, path string) (time.Duration, bool) {
	defer d.mark(path, len(d.problems))
	if n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && !d.failed[n] {
		td, err := time.ParseDuration(strings.TrimSpace(n.Value))
		if err != nil {
			d.problem(n, path, nil, "must be a mapping of timedelta arguments such as {seconds: 20} or a duration such as \"20s\"; got %q", n.Value)
			return 0, false
		}
		return td, true
	}
	if n == nil || n.Kind != yaml.MappingNode {
		d.typeProblem(n, path, "a mapping of timedelta arguments such as {seconds: 20} or a duration such as \"20s\"")
		return 0, false
	}
	entries, _ := d.fields(n, path, 6, timedeltaKeys)
	unit := map[string]float64{
		"weeks": 7 * 24 * 3600e9, "days": 24 * 3600e9, "hours": 3600e9, "minutes": 60e9,
		"seconds": 1e9, "milliseconds": 1e6, "microseconds": 1e3,
	}
	var total float64
	ok := true
	for _, e := range entries {
		f, good := d.number(e.val, e.path)
		ok = ok && good
		total += f * unit[e.key]
	}
	if !ok {
		return 0, false
	}
	return d.duration(n, path, total)
}
