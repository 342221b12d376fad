package dsl_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/streams-dev/streams/dsl"
	"github.com/streams-dev/streams/internal/testtool"
)

// renderPipeline has every kind of step: a FlatMap, a Router whose
// second branch holds a Broadcast, a Kafka sink and a devnull sink, and
// names with dashes and dots.
func renderPipeline() dsl.Pipeline {
	toBytes := dsl.Map(func(s string) ([]byte, error) { return []byte(s), nil })
	return dsl.StreamingSource("events-in", "events").
		Apply("parse", dsl.Map(func(b []byte) (string, error) { return string(b), nil })).
		Apply("split.words", dsl.FlatMap(func(s string) ([]string, error) { return strings.Fields(s), nil })).
		Route("route", func(string) (string, error) { return "errors", nil },
			dsl.Branch[string]("errors").
				Apply("to-bytes", toBytes).
				Sink("errors-out", dsl.StreamSink("errors")),
			dsl.Branch[string]("others").
				Broadcast("copy",
					dsl.Branch[string]("archive").
						Apply("archive-bytes", toBytes).
						Sink("archive-out", dsl.StreamSink("archive")),
					dsl.Branch[string]("drop").
						Sink("discard", dsl.DevNullSink[string]()),
				),
		)
}

// renderOpts rename one sink's topic, as a deployment config does, and
// name a step without a topic, which is ignored.
var renderOpts = []dsl.RenderOption{
	dsl.RenderTitle("fan-out"),
	dsl.RenderTopics(map[string]string{"errors-out": "prod-errors", "parse": "ignored"}),
}

const wantDOT = `digraph "fan-out" {
	graph [rankdir=LR, fontname=Helvetica, label="fan-out", labelloc=t];
	node [fontname=Helvetica];
	edge [fontname=Helvetica];
	"events-in" [label="events-in\nsource\ntopic: events", shape=cds];
	"parse" [label="parse\nmap", shape=box];
	"split.words" [label="split.words\nflat_map", shape=box];
	"route" [label="route\nrouter", shape=diamond];
	"errors" [label="errors\nbranch", shape=box, style=rounded];
	"to-bytes" [label="to-bytes\nmap", shape=box];
	"errors-out" [label="errors-out\nsink\ntopic: prod-errors", shape=cylinder];
	"others" [label="others\nbranch", shape=box, style=rounded];
	"copy" [label="copy\nbroadcast", shape=hexagon];
	"archive" [label="archive\nbranch", shape=box, style=rounded];
	"archive-bytes" [label="archive-bytes\nmap", shape=box];
	"archive-out" [label="archive-out\nsink\ntopic: archive", shape=cylinder];
	"drop" [label="drop\nbranch", shape=box, style=rounded];
	"discard" [label="discard\nsink (devnull)", shape=cylinder];
	"events-in" -> "parse";
	"parse" -> "split.words";
	"split.words" -> "route";
	"route" -> "errors" [label="errors"];
	"route" -> "others" [label="others"];
	"errors" -> "to-bytes";
	"to-bytes" -> "errors-out";
	"others" -> "copy";
	"copy" -> "archive";
	"copy" -> "drop";
	"archive" -> "archive-bytes";
	"archive-bytes" -> "archive-out";
	"drop" -> "discard";
}
`

const wantMermaid = `---
title: "fan-out"
---
flowchart LR
  n0>"events-in<br/>source<br/>topic: events"]
  n1["parse<br/>map"]
  n2["split.words<br/>flat_map"]
  n3{"route<br/>router"}
  n4("errors<br/>branch")
  n5["to-bytes<br/>map"]
  n6[("errors-out<br/>sink<br/>topic: prod-errors")]
  n7("others<br/>branch")
  n8{{"copy<br/>broadcast"}}
  n9("archive<br/>branch")
  n10["archive-bytes<br/>map"]
  n11[("archive-out<br/>sink<br/>topic: archive")]
  n12("drop<br/>branch")
  n13[("discard<br/>sink (devnull)")]
  n0 --> n1
  n1 --> n2
  n2 --> n3
  n3 -->|"errors"| n4
  n3 -->|"others"| n7
  n4 --> n5
  n5 --> n6
  n7 --> n8
  n8 --> n9
  n8 --> n12
  n9 --> n10
  n10 --> n11
  n12 --> n13
`

func render(t *testing.T, g *dsl.Graph, write func(*dsl.Graph, *bytes.Buffer) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := write(g, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func writeDOT(opts ...dsl.RenderOption) func(*dsl.Graph, *bytes.Buffer) error {
	return func(g *dsl.Graph, b *bytes.Buffer) error { return g.WriteDOT(b, opts...) }
}

func writeMermaid(opts ...dsl.RenderOption) func(*dsl.Graph, *bytes.Buffer) error {
	return func(g *dsl.Graph, b *bytes.Buffer) error { return g.WriteMermaid(b, opts...) }
}

func TestWriteDOT(t *testing.T) {
	g := renderPipeline().MustBuild()
	if got := render(t, g, writeDOT(renderOpts...)); got != wantDOT {
		t.Errorf("got:\n%s\nwant:\n%s", got, wantDOT)
	}
	checkWithGraphviz(t, wantDOT, len(g.Nodes()), 13, nil)
}

func TestWriteMermaid(t *testing.T) {
	g := renderPipeline().MustBuild()
	if got := render(t, g, writeMermaid(renderOpts...)); got != wantMermaid {
		t.Errorf("got:\n%s\nwant:\n%s", got, wantMermaid)
	}
}

// The same definition gives the same bytes, build after build.
func TestRenderIsDeterministic(t *testing.T) {
	for _, w := range []func(*dsl.Graph, *bytes.Buffer) error{writeDOT(renderOpts...), writeMermaid(renderOpts...)} {
		first := render(t, renderPipeline().MustBuild(), w)
		for range 20 {
			if got := render(t, renderPipeline().MustBuild(), w); got != first {
				t.Fatalf("output changed:\n%s\nthen:\n%s", first, got)
			}
		}
	}
}

// Without options there is no title and every step shows its own stream
// name; RenderTopics copies its map.
func TestRenderDefaultsAndTopicsCopy(t *testing.T) {
	g := renderPipeline().MustBuild()
	dot := render(t, g, writeDOT())
	if !strings.HasPrefix(dot, "digraph {\n\tgraph [rankdir=LR, fontname=Helvetica];\n") ||
		!strings.Contains(dot, `"errors-out" [label="errors-out\nsink\ntopic: errors", shape=cylinder];`) {
		t.Errorf("DOT without options:\n%s", dot)
	}
	mmd := render(t, g, writeMermaid())
	if !strings.HasPrefix(mmd, "flowchart LR\n") || !strings.Contains(mmd, `n6[("errors-out<br/>sink<br/>topic: errors")]`) {
		t.Errorf("Mermaid without options:\n%s", mmd)
	}

	topics := map[string]string{"events-in": "raw", "archive-out": ""}
	opt := dsl.RenderTopics(topics)
	topics["events-in"] = "changed"
	mmd = render(t, g, writeMermaid(opt, dsl.RenderTopics(map[string]string{"errors-out": "e2"})))
	for _, want := range []string{"topic: raw\"]", "topic: e2\")]", "topic: archive\")]"} {
		if !strings.Contains(mmd, want) {
			t.Errorf("lacks %q:\n%s", want, mmd)
		}
	}
}

// Names, topics and titles with quotes, backslashes, line breaks and
// markup are escaped for each language. Step names are checked by Build
// (letters, digits, '_', '.', '-'), but stream names, topic overrides
// and titles can hold anything, and go through the same quoting.
func TestRenderEscaping(t *testing.T) {
	const nasty = "a \"q\" \\ #1; <b>&amp; `x`\nend\\"
	g := dsl.StreamingSource("in.put-1", nasty).
		Apply("x_2", dsl.Map(func(b []byte) ([]byte, error) { return b, nil })).
		Sink("out-3", dsl.StreamSink("plain")).MustBuild()
	opts := []dsl.RenderOption{dsl.RenderTitle(nasty), dsl.RenderTopics(map[string]string{"out-3": nasty})}

	dot := render(t, g, writeDOT(opts...))
	for _, want := range []string{
		`digraph "a \"q\" \\ #1; <b>&amp; ` + "`x`" + `\nend\\" {`,
		`label="a \"q\" \\ #1; <b>&amp;amp; ` + "`x`" + `\nend\\", labelloc=t];`,
		`"in.put-1" [label="in.put-1\nsource\ntopic: a \"q\" \\ #1; <b>&amp;amp; ` + "`x`" + `\nend\\", shape=cds];`,
		`"x_2" -> "out-3";`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %s:\n%s", want, dot)
		}
	}
	// Graphviz shows the label as written: the same quoting, less &amp;.
	checkWithGraphviz(t, dot, 3, 2, map[string]string{
		"in.put-1": `"in.put-1\nsource\ntopic: a \"q\" \\ #1; <b>&amp; ` + "`x`" + `\nend\\"`,
	})

	mmd := render(t, g, writeMermaid(opts...))
	const esc = `a #quot;q#quot; \ #35;1; #60;b#62;#38;amp; #96;x#96; end\`
	for _, want := range []string{
		"---\ntitle: \"a \\\"q\\\" \\\\ #1; <b>&amp; `x`\\nend\\\\\"\n---\n",
		`  n0>"in.put-1<br/>source<br/>topic: ` + esc + `"]`,
		`  n2[("out-3<br/>sink<br/>topic: ` + esc + `")]`,
		"  n1 --> n2\n",
	} {
		if !strings.Contains(mmd, want) {
			t.Errorf("Mermaid lacks %s:\n%s", want, mmd)
		}
	}
	// Below the front matter, every quote opens or closes a label.
	body := mmd[strings.Index(mmd, "flowchart LR\n"):]
	line := regexp.MustCompile(`^  n\d+(>"[^"]*"\]|\[\("[^"]*"\)\]|\["[^"]*"\]| --> n\d+)$`)
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n")[1:] {
		if !line.MatchString(l) {
			t.Errorf("Mermaid line %q", l)
		}
	}
}

type failingWriter struct{}

var errDiskFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestRenderErrors(t *testing.T) {
	g := renderPipeline().MustBuild()
	if err := g.WriteDOT(failingWriter{}); !errors.Is(err, errDiskFull) || !strings.HasPrefix(err.Error(), "dsl: ") {
		t.Errorf("WriteDOT to a failing writer: %v", err)
	}
	if err := g.WriteMermaid(failingWriter{}); !errors.Is(err, errDiskFull) || !strings.HasPrefix(err.Error(), "dsl: ") {
		t.Errorf("WriteMermaid to a failing writer: %v", err)
	}
	var nilGraph *dsl.Graph
	if err := nilGraph.WriteDOT(&bytes.Buffer{}); err == nil {
		t.Error("WriteDOT of a nil graph: no error")
	}
	if err := nilGraph.WriteMermaid(&bytes.Buffer{}); err == nil {
		t.Error("WriteMermaid of a nil graph: no error")
	}
}

// checkWithGraphviz lays out src with dot, in a subtest "graphviz" (so
// that the rest of the calling test runs without Graphviz), and checks the
// node and edge counts and the labels Graphviz read for the nodes in
// labels (name to label as `dot -Tplain` quotes it). Without dot the
// subtest is skipped, or under CI fails (package testtool).
func checkWithGraphviz(t *testing.T, src string, nodes, edges int, labels map[string]string) {
	t.Helper()
	t.Run("graphviz", func(t *testing.T) { layOut(t, src, nodes, edges, labels) })
}

func layOut(t *testing.T, src string, nodes, edges int, labels map[string]string) {
	t.Helper()
	dot := testtool.Path(t, "dot", "graphviz")
	cmd := exec.Command(dot, "-Tplain")
	cmd.Stdin = strings.NewReader(src)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dot refused the graph: %v\n%s", err, src)
	}
	// -Tplain: node NAME X Y W H LABEL STYLE SHAPE COLOR FILL; names and
	// labels quoted when they need it.
	q := `("(?:[^"\\]|\\.)*"|\S+)`
	nodeLine := regexp.MustCompile(`^node ` + q + ` \S+ \S+ \S+ \S+ ` + q + ` `)
	var n, e, seen int
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "node "):
			n++
			m := nodeLine.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("dot -Tplain line %q", l)
				continue
			}
			name := strings.Trim(m[1], `"`)
			if want, ok := labels[name]; ok {
				seen++
				if m[2] != want {
					t.Errorf("dot read the label of %s as %s, want %s", name, m[2], want)
				}
			}
		case strings.HasPrefix(l, "edge "):
			e++
		}
	}
	if seen != len(labels) {
		t.Errorf("dot -Tplain shows %d of the %d nodes whose labels are checked:\n%s", seen, len(labels), out)
	}
	if n != nodes || e != edges {
		t.Errorf("dot read %d nodes and %d edges, want %d and %d:\n%s", n, e, nodes, edges, out)
	}
}

// The Getting Started pipeline as a Mermaid flowchart, for a ```mermaid
// block in Markdown.
func ExampleGraph_WriteMermaid() {
	g := dsl.StreamingSource("myinput", "events").
		Apply("mymap", dsl.Map(parse)).
		Apply("myfilter", dsl.Filter(isEvent)).
		Apply("serializer", dsl.Serializer[Event]()).
		Sink("myoutput", dsl.StreamSink("transformed-events")).
		MustBuild()
	if err := g.WriteMermaid(os.Stdout, dsl.RenderTopics(map[string]string{"myoutput": "prod-events"})); err != nil {
		fmt.Println(err)
	}
	// Output:
	// flowchart LR
	//   n0>"myinput<br/>source<br/>topic: events"]
	//   n1["mymap<br/>map"]
	//   n2["myfilter<br/>filter"]
	//   n3["serializer<br/>serializer"]
	//   n4[("myoutput<br/>sink<br/>topic: prod-events")]
	//   n0 --> n1
	//   n1 --> n2
	//   n2 --> n3
	//   n3 --> n4
}

// The same pipeline in DOT, for `dot -Tsvg`.
func ExampleGraph_WriteDOT() {
	g := dsl.StreamingSource("myinput", "events").
		Apply("mymap", dsl.Map(parse)).
		Sink("myoutput", dsl.DevNullSink[Event]()).
		MustBuild()
	if err := g.WriteDOT(os.Stdout, dsl.RenderTitle("simple")); err != nil {
		fmt.Println(err)
	}
	// Output:
	// digraph "simple" {
	// 	graph [rankdir=LR, fontname=Helvetica, label="simple", labelloc=t];
	// 	node [fontname=Helvetica];
	// 	edge [fontname=Helvetica];
	// 	"myinput" [label="myinput\nsource\ntopic: events", shape=cds];
	// 	"mymap" [label="mymap\nmap", shape=box];
	// 	"myoutput" [label="myoutput\nsink (devnull)", shape=cylinder];
	// 	"myinput" -> "mymap";
	// 	"mymap" -> "myoutput";
	// }
}
