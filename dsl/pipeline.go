package dsl

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// builder accumulates the steps of a pipeline (or of a branch) while it is
// being defined. Mistakes are recorded, never panicked on, and returned
// together by Build.
type builder struct {
	nodes    map[string]*Node
	order    []string // insertion order, for stable output
	root     string
	problems []string
	merged   string // name of the step this branch was attached to
}

func newBuilder() *builder { return &builder{nodes: map[string]*Node{}} }

func (b *builder) problemf(format string, args ...any) {
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.\-]*$`)

// add registers n after the step named after ("" for a root).
func (b *builder) add(after string, n *Node) {
	switch {
	case n.name == "":
		b.problemf("a %s step has no name", n.kind)
		return
	case !validName.MatchString(n.name):
		b.problemf("step name %q: use letters, digits, '_', '.' and '-' only", n.name)
	}
	if _, dup := b.nodes[n.name]; dup {
		b.problemf("duplicate step name %q", n.name)
		return
	}
	b.nodes[n.name] = n
	b.order = append(b.order, n.name)
	if after == "" {
		b.root = n.name
		return
	}
	prev := b.nodes[after]
	if len(prev.outputs) > 0 && prev.kind != KindRouter && prev.kind != KindBroadcast {
		b.problemf("step %q already continues to %q; use Broadcast to send a stream to more than one step", after, prev.outputs[0])
	}
	prev.outputs = append(prev.outputs, n.name)
	n.inputs = append(n.inputs, after)
}

// Stream is a typed handle on the output of a step while a pipeline is
// being defined. Its methods add the next step. A Stream is a value: using
// the same Stream twice is a mistake reported by Build (use Broadcast).
type Stream[T any] struct {
	b  *builder
	at string
}

// StreamingSource starts a pipeline that reads the Kafka stream (topic)
// streamName. The payloads are the record values; key, headers and
// timestamp travel with them. The deployment config may map the stream to
// another topic and sets brokers, consumer group and offset reset.
func StreamingSource(name, streamName string) Stream[[]byte] {
	b := newBuilder()
	n := &Node{name: name, kind: KindSource, stream: streamName, in: nil, out: typeOf[[]byte]()}
	if streamName == "" {
		b.problemf("source %q has no stream name", name)
	}
	b.add("", n)
	return Stream[[]byte]{b: b, at: name}
}

// Branch starts a branch: a chain that a Router or Broadcast feeds. Its
// name is the branch's name, which a Router's function returns to send a
// message down this branch.
func Branch[T any](name string) Stream[T] {
	b := newBuilder()
	b.add("", &Node{name: name, kind: KindBranch, in: typeOf[T](), out: typeOf[T](), process: identity})
	return Stream[T]{b: b, at: name}
}

func identity(in Any, emit func(Any)) error { emit(in); return nil }

func (s Stream[T]) ok() bool { return s.b != nil }

// Apply adds step, named name, after this stream's step.
func (s Stream[T]) Apply[U any](name string, step Step[T, U]) Stream[U] {
	if !s.ok() {
		return Stream[U]{}
	}
	if step.err != nil {
		s.b.problemf("step %q: %v", name, step.err)
	}
	if step.process == nil && step.batcher == nil && step.reduce == nil && step.err == nil {
		s.b.problemf("step %q: empty step; make one with Map, Filter, FlatMap, Parser, Serializer, Batch or Reduce", name)
	}
	n := &Node{name: name, kind: step.kind, in: typeOf[T](), out: typeOf[U](), process: step.process, decoding: step.decoding, encoding: step.encoding}
	// A Step value may be applied more than once; each node gets its own
	// copy, which knows the step's name.
	if step.batcher != nil {
		b := *step.batcher
		b.step = name
		n.batcher = &b
	}
	if step.reduce != nil {
		r := *step.reduce
		r.step = name
		n.reduce = &r
	}
	s.b.add(s.at, n)
	return Stream[U]{b: s.b, at: name}
}

// Sink ends the stream in sink, with the step name name.
func (s Stream[T]) Sink(name string, sink Sink[T]) Pipeline {
	if !s.ok() {
		return Pipeline{}
	}
	if sink.kind == "" {
		s.b.problemf("sink %q: empty sink; make one with StreamSink, BlobSink or DevNullSink", name)
	}
	if sink.blob != nil {
		if err := sink.blob.check(); err != nil {
			s.b.problemf("blob sink %q: %v", name, err)
		}
	}
	if sink.kind == SinkStream && sink.stream == "" {
		s.b.problemf("sink %q has no stream name", name)
	}
	s.b.add(s.at, &Node{name: name, kind: KindSink, sink: sink.kind, stream: sink.stream, blob: sink.blob, in: typeOf[T]()})
	return Pipeline{b: s.b}
}

// Brancher is a branch handed to Route or Broadcast: a Pipeline (a
// branch that ends in sinks) or a Stream still open, which Build then
// reports as a branch without a sink.
type Brancher interface{ branch() *builder }

func (s Stream[T]) branch() *builder { return s.b }
func (p Pipeline) branch() *builder  { return p.b }

// Route sends each message to exactly one of branches: the one whose
// name fn returns. A message for which fn returns a name that is not a
// branch is rejected (dead-letter queue) with that cause.
func (s Stream[T]) Route(name string, fn func(T) (string, error), branches ...Brancher) Pipeline {
	if !s.ok() {
		return Pipeline{}
	}
	n := &Node{name: name, kind: KindRouter, in: typeOf[T](), out: typeOf[T]()}
	if fn == nil {
		s.b.problemf("router %q: routing function is nil", name)
	}
	s.b.add(s.at, n)
	names := s.attach(n, branches)
	known := map[string]bool{}
	for _, b := range names {
		known[b] = true
	}
	n.route = func(in Any) (string, error) {
		p, ok := in.Payload.(T)
		if !ok && in.Payload != nil {
			return "", fmt.Errorf("payload is %T, step expects %T", in.Payload, p)
		}
		b, err := fn(p)
		if err != nil {
			return "", err
		}
		if !known[b] {
			return "", fmt.Errorf("%w: route function chose %q, branches are %s", errNotRouted, b, strings.Join(names, ", "))
		}
		return b, nil
	}
	return Pipeline{b: s.b}
}

// Broadcast sends a copy of each message to every one of branches. The
// copies share their payload: a branch must not modify a payload in
// place.
func (s Stream[T]) Broadcast(name string, branches ...Brancher) Pipeline {
	if !s.ok() {
		return Pipeline{}
	}
	n := &Node{name: name, kind: KindBroadcast, in: typeOf[T](), out: typeOf[T](), process: identity}
	s.b.add(s.at, n)
	s.attach(n, branches)
	return Pipeline{b: s.b}
}

// attach merges the branches' steps into s's pipeline under n and
// returns the branch names.
func (s Stream[T]) attach(n *Node, branches []Brancher) []string {
	if len(branches) == 0 {
		s.b.problemf("%s %q has no branches", n.kind, n.name)
	}
	want := typeOf[T]()
	var names []string
	for i, br := range branches {
		if br == nil || br.branch() == nil {
			s.b.problemf("%s %q: branch %d is empty; make branches with dsl.Branch", n.kind, n.name, i)
			continue
		}
		bb := br.branch()
		root := bb.nodes[bb.root]
		if root == nil || root.kind != KindBranch {
			s.b.problemf("%s %q: branch %d does not start with dsl.Branch", n.kind, n.name, i)
			continue
		}
		if bb.merged != "" {
			s.b.problemf("%s %q: branch %q is already attached to %q", n.kind, n.name, root.name, bb.merged)
			continue
		}
		bb.merged = n.name
		if root.in != want {
			s.b.problemf("%s %q: branch %q takes %v, but the stream carries %v", n.kind, n.name, root.name, root.in, want)
		}
		s.b.problems = append(s.b.problems, bb.problems...)
		for _, name := range bb.order {
			if _, dup := s.b.nodes[name]; dup {
				s.b.problemf("duplicate step name %q", name)
				continue
			}
			s.b.nodes[name] = bb.nodes[name]
			s.b.order = append(s.b.order, name)
		}
		n.outputs = append(n.outputs, root.name)
		root.inputs = append(root.inputs, n.name)
		names = append(names, root.name)
	}
	return names
}

// Pipeline is a chain that ends in sinks: a whole pipeline when it starts
// at a StreamingSource, or a finished branch.
type Pipeline struct{ b *builder }

// BuildError lists every problem found in a pipeline definition.
type BuildError struct{ Problems []string }

func (e *BuildError) Error() string {
	if len(e.Problems) == 1 {
		return "dsl: invalid pipeline: " + e.Problems[0]
	}
	return "dsl: invalid pipeline:\n  " + strings.Join(e.Problems, "\n  ")
}

// Build checks the pipeline and returns its immutable graph, or a
// *BuildError with every problem at once.
func (p Pipeline) Build() (*Graph, error) {
	if p.b == nil {
		return nil, &BuildError{Problems: []string{"empty pipeline: start one with dsl.StreamingSource"}}
	}
	b := p.b
	problems := append([]string(nil), b.problems...)
	root := b.nodes[b.root]
	if root == nil || root.kind != KindSource {
		problems = append(problems, "the pipeline does not start with dsl.StreamingSource (branches are built through Route or Broadcast)")
	}
	for _, name := range b.order {
		n := b.nodes[name]
		if len(n.outputs) == 0 && n.kind != KindSink {
			where := "the pipeline"
			if br := branchOf(b, n); br != "" {
				where = fmt.Sprintf("branch %q", br)
			}
			problems = append(problems, fmt.Sprintf("%s ends at step %q without a sink", where, name))
		}
	}
	if len(problems) > 0 {
		return nil, &BuildError{Problems: problems}
	}
	return newGraph(b), nil
}

// branchOf names the innermost branch that n belongs to, if any.
func branchOf(b *builder, n *Node) string {
	for n != nil {
		if n.kind == KindBranch {
			return n.name
		}
		if len(n.inputs) == 0 {
			return ""
		}
		n = b.nodes[n.inputs[0]]
	}
	return ""
}

// MustBuild is Build for package-level pipelines in programs: it panics
// with the BuildError.
func (p Pipeline) MustBuild() *Graph {
	g, err := p.Build()
	if err != nil {
		panic(err)
	}
	return g
}

// Node is one step of a built pipeline. It is read-only.
type Node struct {
	name    string
	kind    Kind
	sink    SinkKind
	stream  string
	blob    *Blob
	in, out reflect.Type
	process processFn
	route   func(Any) (string, error)
	batcher *Batcher
	reduce  *Reducer
	// decoding is a Parser's or BatchParser's (nil for other steps).
	decoding *decoding
	// encoding is a Serializer's (nil for other steps).
	encoding *encoding
	inputs   []string
	outputs  []string
}

// Name is the step's unique name.
func (n *Node) Name() string { return n.name }

// Kind says what the step does.
func (n *Node) Kind() Kind { return n.kind }

// SinkKind says where a sink writes ("" for other steps).
func (n *Node) SinkKind() SinkKind { return n.sink }

// Blob describes a BlobSink to runners (nil for other steps).
func (n *Node) Blob() *Blob { return n.blob }

// StreamName is the logical stream a source reads or a stream sink writes.
func (n *Node) StreamName() string { return n.stream }

// InType is the payload type the step takes (nil for a source).
func (n *Node) InType() reflect.Type { return n.in }

// OutType is the payload type the step gives (nil for a sink).
func (n *Node) OutType() reflect.Type { return n.out }

// Inputs are the names of the steps feeding this one.
func (n *Node) Inputs() []string { return append([]string(nil), n.inputs...) }

// Outputs are the names of the steps this one feeds, in definition order.
// A Router's and Broadcast's outputs are its branches.
func (n *Node) Outputs() []string { return append([]string(nil), n.outputs...) }

// Process runs a transform step (map, filter, flat map, parser,
// serializer, branch, broadcast) on one message, calling emit for each
// output. A user function's error or panic comes back as an
// *InvalidError naming the step; the caller goes on with the next message.
func (n *Node) Process(in Any, emit func(Any)) (err error) {
	if n.process == nil {
		return fmt.Errorf("dsl: step %q (%s) has no process function", n.name, n.kind)
	}
	defer func() {
		if r := recover(); r != nil {
			err = panicError(r)
		}
		if err != nil {
			var inv *InvalidError
			if !errors.As(err, &inv) {
				err = &InvalidError{Step: n.name, Cause: err}
			}
		}
	}()
	return n.process(in, emit)
}

// Batcher describes a Batch step to runners (nil for other kinds).
func (n *Node) Batcher() *Batcher { return n.batcher }

// Reducer describes a Reduce step to runners (nil for other kinds).
func (n *Node) Reducer() *Reducer { return n.reduce }

// Route runs a Router's function on one message and returns the name of
// the branch it goes to. Errors are as for Process.
func (n *Node) Route(in Any) (branch string, err error) {
	if n.route == nil {
		return "", fmt.Errorf("dsl: step %q (%s) is not a router", n.name, n.kind)
	}
	defer func() {
		if r := recover(); r != nil {
			err = panicError(r)
		}
		if err != nil {
			err = &InvalidError{Step: n.name, Cause: err}
		}
	}()
	return n.route(in)
}

// Graph is a built pipeline: immutable, every step reachable from the
// one source, every branch ending in a sink.
type Graph struct {
	nodes  []*Node // topological order, branches in definition order
	byName map[string]*Node
}

func newGraph(b *builder) *Graph {
	g := &Graph{byName: make(map[string]*Node, len(b.nodes))}
	var visit func(name string)
	visit = func(name string) {
		n := b.nodes[name]
		if _, seen := g.byName[name]; seen {
			return
		}
		g.byName[name] = n
		g.nodes = append(g.nodes, n)
		for _, o := range n.outputs {
			visit(o)
		}
	}
	visit(b.root)
	return g
}

// Nodes returns the steps in topological order (source first).
func (g *Graph) Nodes() []*Node { return append([]*Node(nil), g.nodes...) }

// Node returns the step named name, or nil.
func (g *Graph) Node(name string) *Node { return g.byName[name] }

// Source returns the pipeline's source step.
func (g *Graph) Source() *Node { return g.nodes[0] }

// Sinks returns the sink steps, sorted by name.
func (g *Graph) Sinks() []*Node {
	var out []*Node
	for _, n := range g.nodes {
		if n.kind == KindSink {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}
