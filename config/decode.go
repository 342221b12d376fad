package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/streams-dev/streams/component"
)

// Limits that keep hostile documents cheap: an alias can make a small
// file expand exponentially, and an anchor can contain an alias to
// itself.
const (
	maxVisits = 1 << 18
	maxDepth  = 200
)

// decoder turns a YAML node tree into a Config, collecting problems.
type decoder struct {
	lookupEnv func(string) (string, bool)
	problems  []Problem
	pos       map[string]pos
	bad       map[string]bool
	// subst holds the scalars whose value came from ${envvar:...}; they
	// are read as whatever type their key needs.
	subst map[*yaml.Node]bool
	// failed holds the scalars whose substitution failed; their problem
	// is reported and typing them would only add noise.
	failed map[*yaml.Node]bool
	// components are those given to Parse: their keys are step keys.
	components []component.Spec
	visits     int
	exhausted  bool
}

func newDecoder(lookupEnv func(string) (string, bool)) *decoder {
	return &decoder{
		lookupEnv: lookupEnv,
		pos:       map[string]pos{},
		bad:       map[string]bool{},
		subst:     map[*yaml.Node]bool{},
		failed:    map[*yaml.Node]bool{},
	}
}

// problem records a problem at n (which may be nil) and marks path bad.
func (d *decoder) problem(n *yaml.Node, path string, err error, format string, args ...any) {
	p := Problem{Path: path, Msg: fmt.Sprintf(format, args...), Err: err}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	d.problems = append(d.problems, p)
	d.bad[path] = true
}

// missing reports that the mapping at path (whose key is n) lacks a
// required key.
func (d *decoder) missing(n *yaml.Node, path, key string) {
	d.problem(n, path, nil, "missing required key %s", key)
	d.bad[join(path, key)] = true
}

// mark marks path bad if problems were found since before: its value
// is partial, and checking it further would only add noise.
func (d *decoder) mark(path string, before int) {
	if len(d.problems) > before {
		d.bad[path] = true
	}
}

// visit counts a node against the expansion budget and reports false
// (once, as a problem) when the budget is spent or nesting is too deep.
func (d *decoder) visit(n *yaml.Node, path string, depth int) bool {
	if d.exhausted {
		return false
	}
	d.visits++
	if d.visits > maxVisits || depth > maxDepth {
		d.exhausted = true
		d.problem(n, path, nil, "document is too large or too deeply nested once aliases are expanded")
		return false
	}
	return true
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax records a YAML syntax error.
func (d *decoder) syntax(err error) {
	p := Problem{Msg: err.Error()}
	if m := yamlLine.FindStringSubmatch(p.Msg); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
		p.Msg = m[2]
	} else {
		p.Msg = strings.TrimPrefix(p.Msg, "yaml: ")
	}
	p.Msg = "yaml: " + p.Msg
	d.problems = append(d.problems, p)
}

// decodeNode reads one document, turning a panic inside the YAML library
// into an error: bad input must never crash the caller.
func decodeNode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: internal error: %v", r)
		}
	}()
	return dec.Decode(n)
}

// document decodes data. ok is false when data is not well-formed YAML.
func (d *decoder) document(data []byte) (c *Config, ok bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := decodeNode(dec, &doc)
	if err != nil && !errors.Is(err, io.EOF) {
		d.syntax(err)
		return nil, false
	}
	var extra yaml.Node
	switch err := decodeNode(dec, &extra); {
	case err == nil:
		d.problem(&extra, "", nil, "a config is one YAML document; this is a second one")
	case !errors.Is(err, io.EOF):
		d.syntax(err)
	}
	var root *yaml.Node
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	d.substitute(root, "", map[*yaml.Node]bool{})
	return d.config(root), true
}

// substitute replaces ${envvar:NAME} references in every string value
// (not in keys) of the tree under n. seen guards against anchors that
// contain aliases to themselves.
func (d *decoder) substitute(n *yaml.Node, path string, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			d.expand(n, path)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			d.substitute(c, index(path, i), seen)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.substitute(n.Content[i+1], join(path, n.Content[i].Value), seen)
		}
	case yaml.AliasNode:
		d.substitute(n.Alias, path, seen)
	}
}

const envPrefix = "${envvar:"

// expand substitutes the references in one scalar.
func (d *decoder) expand(n *yaml.Node, path string) {
	s := n.Value
	if !strings.Contains(s, envPrefix) {
		return
	}
	var b strings.Builder
	failed := false
	for {
		i := strings.Index(s, envPrefix)
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		rest := s[i+len(envPrefix):]
		j := strings.IndexByte(rest, '}')
		if j < 0 {
			d.problem(n, path, nil, "unterminated %s reference: want ${envvar:NAME}", envPrefix)
			failed = true
			break
		}
		name := rest[:j]
		s = rest[j+1:]
		if !isEnvName(name) {
			d.problem(n, path, nil, "bad environment variable name %q in ${envvar:...}: want letters, digits and underscores, not starting with a digit", name)
			failed = true
			continue
		}
		v, ok := d.lookupEnv(name)
		if !ok {
			d.problem(n, path, ErrEnvVarNotSet, "environment variable %s is not set (referenced as ${envvar:%s})", name, name)
			failed = true
			continue
		}
		b.WriteString(v)
	}
	if failed {
		d.failed[n] = true
		return
	}
	n.Value = b.String()
	n.Tag = "!!str"
	d.subst[n] = true
}

func isEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// entry is one key of a mapping.
type entry struct {
	key  string
	keyN *yaml.Node
	val  *yaml.Node // aliases resolved
	path string
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// mapping returns the entries of the mapping n in file order, with merge
// keys (<<) expanded: explicit keys win over merged ones, and earlier
// merged mappings over later ones. A null (or missing) n has no entries.
// Anything else is reported and ok is false.
func (d *decoder) mapping(n *yaml.Node, path string, depth int) (entries []entry, ok bool) {
	n = resolve(n)
	if isNull(n) {
		return nil, true
	}
	if !d.visit(n, path, depth) {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		d.typeProblem(n, path, "a mapping")
		return nil, false
	}
	d.visits += len(n.Content) / 2
	var merges []*yaml.Node
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		rk := resolve(k)
		if rk == nil || rk.Kind != yaml.ScalarNode {
			d.problem(k, path, nil, "a mapping key must be a scalar, not %s", describe(rk))
			continue
		}
		key := rk.Value
		p := join(path, key)
		if prev, dup := seen[key]; dup {
			d.problem(k, p, nil, "duplicate key %q (first at line %d)", key, prev.Line)
			continue
		}
		seen[key] = k
		rv := resolve(v)
		d.pos[p] = position(k, rv)
		entries = append(entries, entry{key: key, keyN: k, val: rv, path: p})
	}
	explicit := len(entries)
	for _, m := range merges {
		m = resolve(m)
		var sources []*yaml.Node
		if m != nil && m.Kind == yaml.SequenceNode {
			sources = m.Content
		} else {
			sources = []*yaml.Node{m}
		}
		for _, src := range sources {
			merged, ok := d.mapping(src, path, depth+1)
			if !ok {
				continue
			}
			for _, e := range merged {
				if _, dup := seen[e.key]; dup {
					continue
				}
				seen[e.key] = e.keyN
				entries = append(entries, e)
			}
		}
	}
	if len(merges) > 0 {
		// Reading the merged mappings recorded their positions under
		// our paths; the explicit keys win there too.
		for _, e := range entries[:explicit] {
			d.pos[e.path] = position(e.keyN, e.val)
		}
	}
	return entries, true
}

func position(k, v *yaml.Node) pos {
	p := pos{keyLine: k.Line, keyCol: k.Column}
	if v != nil {
		p.valLine, p.valCol = v.Line, v.Column
	}
	if p.valLine == 0 {
		p.valLine, p.valCol = p.keyLine, p.keyCol
	}
	return p
}

// fields is mapping, reporting and dropping keys not in accepted.
func (d *decoder) fields(n *yaml.Node, path string, depth int, accepted []string) ([]entry, bool) {
	entries, ok := d.mapping(n, path, depth)
	return d.known(entries, accepted), ok
}

// known reports and drops the entries whose key is not accepted.
func (d *decoder) known(entries []entry, accepted []string) []entry {
	out := entries[:0:0]
	for _, e := range entries {
		if slices.Contains(accepted, e.key) {
			out = append(out, e)
			continue
		}
		d.unknownKey(e, accepted)
	}
	return out
}

func (d *decoder) unknownKey(e entry, accepted []string) {
	if why, ok := unsupported[e.key]; ok {
		d.problem(e.keyN, e.path, nil, "%s", why)
		return
	}
	d.problem(e.keyN, e.path, nil, "unknown key%s; accepted keys: %s",
		didYouMean(e.key, accepted), strings.Join(accepted, ", "))
}

// describe names what a node holds, for "must be X; got Y" messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
	default:
		return "nothing"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:37] + "..."
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!str":
		return "string " + strconv.Quote(v)
	case "!!int":
		return "integer " + v
	case "!!float":
		return "number " + v
	case "!!bool":
		return "boolean " + v
	case "!!timestamp":
		return "timestamp " + v
	}
	return n.ShortTag() + " " + strconv.Quote(v)
}
