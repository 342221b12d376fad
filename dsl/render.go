package dsl

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A RenderOption changes what WriteDOT and WriteMermaid draw. Make one
// with RenderTitle or RenderTopics.
type RenderOption interface{ applyRender(*renderConfig) }

type renderConfig struct {
	title  string
	topics map[string]string
}

type renderOption func(*renderConfig)

func (o renderOption) applyRender(c *renderConfig) { o(c) }

// RenderTitle gives the picture a title, usually the pipeline's name.
// Default: no title. The last RenderTitle wins.
func RenderTitle(title string) RenderOption {
	return renderOption(func(c *renderConfig) { c.title = title })
}

// RenderTopics shows, for the source and the Kafka sinks named in topics
// (step name to topic), that topic instead of the stream name the
// pipeline gives them: the physical topic when the deployment config
// renames it. Default: every step shows its StreamName. Names of other
// steps, or of no step, are ignored, and so is an empty topic. Several
// RenderTopics add up; for a step named twice the last one wins. The map
// is copied.
func RenderTopics(topics map[string]string) RenderOption {
	cp := make(map[string]string, len(topics))
	for k, v := range topics {
		if v != "" {
			cp[k] = v
		}
	}
	return renderOption(func(c *renderConfig) {
		if c.topics == nil {
			c.topics = map[string]string{}
		}
		for k, v := range cp {
			c.topics[k] = v
		}
	})
}

func newRenderConfig(opts []RenderOption) *renderConfig {
	c := &renderConfig{}
	for _, o := range opts {
		if o != nil {
			o.applyRender(c)
		}
	}
	return c
}

// errNilGraph is returned for a nil *Graph.
var errNilGraph = errors.New("dsl: nil graph")

// shape is a node's shape in each language: DOT attributes, and the
// Mermaid brackets around the quoted label.
type shape struct {
	dot           string
	mOpen, mClose string
}

func shapeOf(n *Node) shape {
	switch n.kind {
	case KindSource:
		return shape{"shape=cds", ">", "]"}
	case KindSink:
		return shape{"shape=cylinder", "[(", ")]"}
	case KindRouter:
		return shape{"shape=diamond", "{", "}"}
	case KindBroadcast:
		return shape{"shape=hexagon", "{{", "}}"}
	case KindBranch:
		return shape{`shape=box, style=rounded`, "(", ")"}
	}
	return shape{"shape=box", "[", "]"}
}

// labelLines are the lines of n's label: name, kind and topic.
func (c *renderConfig) labelLines(n *Node) []string {
	kind := n.kind.String()
	if n.kind == KindSink && n.sink != SinkStream {
		kind += " (" + n.sink.String() + ")"
	}
	lines := []string{n.name, kind}
	if n.kind == KindSource || (n.kind == KindSink && n.sink == SinkStream) {
		topic := n.stream
		if t, ok := c.topics[n.name]; ok {
			topic = t
		}
		lines = append(lines, "topic: "+topic)
	}
	return lines
}

// edgeLabel is the label of the edge from n to its output out: the
// branch name for a Router, none otherwise.
func edgeLabel(n *Node, out string) string {
	if n.kind == KindRouter {
		return out
	}
	return ""
}

// WriteDOT writes the graph in Graphviz's DOT language, ready for
// `dot -Tsvg`.
//
// It draws one node per step, in the order of Graph.Nodes, and one edge
// per Outputs entry, left to right from the source. A node's label is
// the step's name, its kind and, for the source and Kafka sinks, its
// topic (see RenderTopics). Shapes tell the steps apart, in DOT and in
// WriteMermaid's picture alike:
//
//	step          DOT          Mermaid
//	source        cds          asymmetric  >"…"]
//	sink          cylinder     cylinder    [("…")]
//	router        diamond      rhombus     {"…"}
//	broadcast     hexagon      hexagon     {{"…"}}
//	branch        rounded box  rounded     ("…")
//	other steps   box          rectangle   ["…"]
//
// A Router's edges carry the name of the branch they lead to (the value
// its function returns); a Broadcast's edges are bare.
//
// Node IDs are the quoted step names. The output depends only on g and
// opts: the same graph gives the same bytes.
func (g *Graph) WriteDOT(w io.Writer, opts ...RenderOption) error {
	if g == nil {
		return errNilGraph
	}
	c := newRenderConfig(opts)
	var b strings.Builder
	b.WriteString("digraph ")
	if c.title != "" {
		b.WriteString(dotID(c.title) + " ")
	}
	b.WriteString("{\n")
	b.WriteString("\tgraph [rankdir=LR, fontname=Helvetica")
	if c.title != "" {
		b.WriteString(", label=" + dotLabel(c.title) + ", labelloc=t")
	}
	b.WriteString("];\n")
	b.WriteString("\tnode [fontname=Helvetica];\n")
	b.WriteString("\tedge [fontname=Helvetica];\n")
	for _, n := range g.nodes {
		fmt.Fprintf(&b, "\t%s [label=%s, %s];\n", dotID(n.name), dotLabel(strings.Join(c.labelLines(n), "\n")), shapeOf(n).dot)
	}
	for _, n := range g.nodes {
		for _, out := range n.outputs {
			fmt.Fprintf(&b, "\t%s -> %s", dotID(n.name), dotID(out))
			if l := edgeLabel(n, out); l != "" {
				fmt.Fprintf(&b, " [label=%s]", dotLabel(l))
			}
			b.WriteString(";\n")
		}
	}
	b.WriteString("}\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("dsl: writing DOT: %w", err)
	}
	return nil
}

// dotID quotes s as a DOT ID. Inside quotes DOT unescapes only \", so
// a backslash is doubled too: a name ending in one must not eat the
// closing quote.
func dotID(s string) string { return dotQuote(s, false) }

// dotLabel quotes s as a DOT label. Graphviz reads label escapes (\n,
// \l, \N, ...) and HTML entities (&amp;) in labels, so a backslash is
// doubled and & written &amp; to show as themselves, and line breaks
// become \n.
func dotLabel(s string) string { return dotQuote(s, true) }

func dotQuote(s string, label bool) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			// dropped: \r\n is one line break
		case r == '&' && label:
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// WriteMermaid writes the graph as a Mermaid flowchart, ready for a
// ```mermaid block in Markdown: the picture WriteDOT draws. Node IDs are
// n0, n1, ... in the order of Graph.Nodes, since a step name need not be
// a Mermaid identifier; names appear only in the quoted labels. A title
// goes in the diagram's front matter. The output depends only on g and
// opts.
func (g *Graph) WriteMermaid(w io.Writer, opts ...RenderOption) error {
	if g == nil {
		return errNilGraph
	}
	c := newRenderConfig(opts)
	var b strings.Builder
	if c.title != "" {
		// Front matter is YAML; a Go-quoted string is a valid YAML
		// double-quoted scalar.
		b.WriteString("---\ntitle: " + strconv.Quote(c.title) + "\n---\n")
	}
	b.WriteString("flowchart LR\n")
	ids := make(map[string]string, len(g.nodes))
	for i, n := range g.nodes {
		ids[n.name] = "n" + strconv.Itoa(i)
	}
	for _, n := range g.nodes {
		sh := shapeOf(n)
		lines := c.labelLines(n)
		for i, l := range lines {
			lines[i] = mermaidEscape(l)
		}
		fmt.Fprintf(&b, "  %s%s\"%s\"%s\n", ids[n.name], sh.mOpen, strings.Join(lines, "<br/>"), sh.mClose)
	}
	for _, n := range g.nodes {
		for _, out := range n.outputs {
			if l := edgeLabel(n, out); l != "" {
				fmt.Fprintf(&b, "  %s -->|\"%s\"| %s\n", ids[n.name], mermaidEscape(l), ids[out])
			} else {
				fmt.Fprintf(&b, "  %s --> %s\n", ids[n.name], ids[out])
			}
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("dsl: writing Mermaid: %w", err)
	}
	return nil
}

// mermaidEscape makes s safe inside a quoted Mermaid label. Mermaid
// labels are HTML and have no backslash escapes: characters that would
// end the string, start an entity or markup, or turn the label into a
// Markdown string (a backtick) are written as Mermaid entity codes
// (#quot;, #35;, ...), which Mermaid turns back into the characters.
// Line breaks become spaces.
func mermaidEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString("#quot;")
		case '#', '&', '<', '>', '`':
			b.WriteString("#" + strconv.Itoa(int(r)) + ";")
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
