package lint

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// module is the import path of this module.
const module = "github.com/streams-dev/streams"

// The heavy dependencies that some layers must not pull in, even
// indirectly.
const (
	beam   = "github.com/apache/beam"
	kafka  = "github.com/twmb/franz-go"
	pebble = "github.com/cockroachdb/pebble"
)

// m names a package of the module by its path inside it; m("") is the
// whole module.
func m(rel string) string {
	if rel == "" {
		return module
	}
	return module + "/" + rel
}

// under reports whether path is prefix or a package under it.
func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func underAny(path string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return under(path, p) })
}

// A rule forbids the packages under from (minus those under exempt) to
// import the packages under forbid (minus those under allow).
type rule struct {
	from   string   // import path; the rule covers it and the packages under it
	exempt []string // importers under from that the rule does not cover
	forbid []string // import path prefixes
	allow  []string // exceptions to forbid
	// deps checks transitive dependencies too, not only direct imports.
	deps bool
	why  string
	// absent, when set, says why from may not exist yet; a rule without
	// it must match at least one package.
	absent string
}

// rules are the arrows package lint's documentation lists.
var rules = []rule{
	{from: m("dsl"), forbid: []string{beam, kafka, pebble}, deps: true,
		why: "the DSL knows nothing of Beam, Kafka or Pebble"},
	{from: m("dsl"), forbid: []string{m("")}, allow: []string{m("dsl")},
		why: "the DSL is the bottom layer of the module"},

	{from: m("config"), forbid: []string{beam}, deps: true,
		why: "validating a deployment config must not need Beam"},
	{from: m("config"), forbid: []string{m("")}, allow: []string{m("config"), m("io/kafka/clientconf"), m("component")},
		why: "config may use only io/kafka/clientconf and component of the module"},

	{from: m("component"), forbid: []string{m("")}, allow: []string{m("component")},
		why: "component is the leaf where config and a sink's translation share its spec"},
	{from: m("component"), forbid: []string{beam, kafka, pebble}, deps: true,
		why: "config decodes components' keys with it, so it must not need Beam"},

	{from: m("io/kafka"), forbid: []string{m("")}, allow: []string{m("io/kafka"), m("internal/wire")},
		why: "io/kafka is a Beam I/O any pipeline can use; of the module it may use only io/kafka/clientconf and internal/wire"},
	{from: m("io/kafka/clientconf"), forbid: []string{m("")}, allow: []string{m("io/kafka/clientconf")},
		why: "io/kafka/clientconf is a leaf that config and io/kafka share"},
	{from: m("io/kafka/clientconf"), forbid: []string{beam}, deps: true,
		why: "config uses io/kafka/clientconf, so it must not need Beam"},

	{from: m("io/blob"), forbid: []string{m("")}, allow: []string{m("io/blob")},
		why: "io/blob writes objects for the blob sink and any other caller; it is a leaf of the module"},
	{from: m("io/blob"), forbid: []string{beam, kafka, pebble}, deps: true,
		why: "writing objects must not need Beam, Kafka or Pebble"},

	{from: m("beamtranslate"), forbid: []string{m("runner"), m("config"), m("devbroker"), m("localrunner")},
		why: "beamtranslate maps DSL steps to Beam transforms and knows nothing of how they are run or configured"},

	{from: m("localrunner"), forbid: []string{m("dsl"), m("beamtranslate"), m("config"), m("runner")},
		why: "the local runner runs any *beam.Pipeline, not only ours"},

	{from: m("internal/contract"), forbid: []string{m("")}, allow: []string{m("internal/contract")},
		why: "internal/contract is the leaf beamtranslate and localrunner share instead of importing each other"},
	{from: m("internal/contract"), forbid: []string{kafka, pebble}, deps: true,
		why: "internal/contract declares Beam-level agreements only"},

	{from: m("observe"), forbid: []string{beam, kafka, pebble}, deps: true,
		why: "metrics and health are read by the DoFns and the runner alike; they must not need Beam or Kafka"},
	{from: m("observe"), forbid: []string{m("")}, allow: []string{m("observe"), m("dsl")},
		why: "observe may use only the DSL's graph of the module"},

	{from: m("state"), forbid: []string{beam, kafka}, deps: true,
		why: "the Pebble store under the local runner knows nothing of Beam or Kafka"},
	{from: m("state"), forbid: []string{m("")}, allow: []string{m("state")},
		why: "the state store is a leaf of the module"},

	{from: m("devbroker"), forbid: []string{beam}, deps: true,
		why: "the development broker must not need Beam"},
	{from: m("devbroker"), forbid: []string{m("")}, allow: []string{m("devbroker")},
		why: "the development broker stands alone"},

	{from: m(""), exempt: []string{m("examples")}, forbid: []string{m("examples")},
		why: "examples are programs: only tests may import them"},
	{from: m(""), exempt: []string{m("cmd")}, forbid: []string{m("cmd")},
		why: "commands are programs: only tests may import them"},
	{from: m(""), exempt: []string{m("conformance")}, forbid: []string{m("conformance")},
		why: "the conformance suite is a leaf: only tests may import it"},
	{from: m(""), exempt: []string{m("deploy")}, forbid: []string{m("deploy")},
		why: "deploy renders the Kubernetes manifests for tests: kustomize must link into no program"},
	{from: m("deploy"), forbid: []string{m("")}, allow: []string{m("deploy")},
		why: "deploy stands alone"},
}

// pkg is one package of `go list -deps`: what it imports directly and,
// for the module's own packages, everything it depends on.
type pkg struct {
	path    string
	inMod   bool     // matched by the pattern, not only a dependency
	imports []string // direct, non-test imports
	deps    []string // transitive, non-test; set for the module's packages only
	err     string   // what go list could not load, if anything
}

// listTemplate prints one line per package: path, whether it is only a
// dependency, its imports, (for the module's packages) its deps, and its
// loading error quoted, separated by tabs.
const listTemplate = "{{.ImportPath}}\t{{.DepOnly}}\t{{join .Imports \" \"}}\t{{if not .DepOnly}}{{join .Deps \" \"}}{{end}}\t{{if .Error}}{{printf \"%q\" .Error.Err}}{{end}}"

// goList runs `go list -deps` on the module and parses its output. It
// uses -e, so that a package go list cannot load (an import cycle, which a
// forbidden import often creates) is reported beside the rules it breaks
// rather than instead of them.
func goList(t *testing.T) map[string]*pkg {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not available, so imports cannot be listed: %v", err)
	}
	cmd := exec.Command(goCmd, "list", "-e", "-deps", "-f", listTemplate, m("")+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.Bytes())
	}
	pkgs, err := parseList(out)
	if err != nil {
		t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	return pkgs
}

func parseList(out []byte) (map[string]*pkg, error) {
	pkgs := map[string]*pkg{}
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) != 5 {
			return nil, fmt.Errorf("unexpected line %q", line)
		}
		pk := &pkg{path: f[0], inMod: f[1] == "false", imports: strings.Fields(f[2]), deps: strings.Fields(f[3])}
		if f[4] != "" {
			var err error
			if pk.err, err = strconv.Unquote(f[4]); err != nil {
				return nil, fmt.Errorf("unexpected error field in line %q: %v", line, err)
			}
		}
		pkgs[f[0]] = pk
	}
	if len(pkgs) == 0 {
		return nil, errors.New("no packages listed")
	}
	return pkgs, nil
}

// forbidden reports whether r forbids importing path.
func (r rule) forbidden(path string) bool {
	return underAny(path, r.forbid) && !underAny(path, r.allow)
}

// covers reports whether r is about the package path.
func (r rule) covers(path string) bool {
	return under(path, r.from) && !underAny(path, r.exempt)
}

// chain returns the shortest import chain from one package to a package
// r forbids, found breadth first over the listed imports.
func (r rule) chain(pkgs map[string]*pkg, from string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != from && r.forbidden(p) {
			var c []string
			for ; p != ""; p = prev[p] {
				c = append(c, p)
			}
			slices.Reverse(c)
			return c
		}
		if pk := pkgs[p]; pk != nil {
			for _, imp := range pk.imports {
				if _, seen := prev[imp]; !seen {
					prev[imp] = p
					queue = append(queue, imp)
				}
			}
		}
	}
	return nil
}

// check returns one line per broken rule and package, and the rules that
// matched no package.
func check(pkgs map[string]*pkg, rules []rule) (problems []string, unmatched []rule) {
	paths := make([]string, 0, len(pkgs))
	for p, pk := range pkgs {
		if pk.inMod {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, r := range rules {
		matched := false
		for _, p := range paths {
			if !r.covers(p) {
				continue
			}
			matched = true
			pk := pkgs[p]
			if !r.deps {
				for _, imp := range pk.imports {
					if r.forbidden(imp) {
						problems = append(problems, fmt.Sprintf("%s imports %s: %s", p, imp, r.why))
					}
				}
				continue
			}
			// One line per forbidden tree: the shortest chain into it
			// and how many of its packages come along.
			for _, f := range r.forbid {
				one := r
				one.forbid = []string{f}
				n := 0
				for _, d := range pk.deps {
					if one.forbidden(d) {
						n++
					}
				}
				if n == 0 {
					continue
				}
				c := one.chain(pkgs, p)
				if c == nil { // deps and imports disagree: report what we know
					c = []string{p, "..."}
				}
				more := ""
				if n > 1 {
					more = fmt.Sprintf(" (and %d more packages under %s)", n-1, f)
				}
				problems = append(problems, fmt.Sprintf("%s depends on %s%s: %s\n\timport chain: %s",
					p, c[len(c)-1], more, r.why, strings.Join(c, " -> ")))
			}
		}
		if !matched {
			unmatched = append(unmatched, r)
		}
	}
	return problems, unmatched
}

// TestForbiddenImports fails on every import the layering forbids.
func TestForbiddenImports(t *testing.T) {
	pkgs := goList(t)
	n := 0
	for _, pk := range pkgs {
		if pk.inMod {
			n++
		}
	}
	t.Logf("%d packages of the module, %d packages in all", n, len(pkgs))
	if _, ok := pkgs[m("internal/lint")]; !ok {
		t.Fatalf("go list did not list %s: is the module path %s?", m("internal/lint"), module)
	}
	var loadErrs []string
	for _, pk := range pkgs {
		if pk.err != "" {
			loadErrs = append(loadErrs, fmt.Sprintf("go list: %s: %s", pk.path, pk.err))
		}
	}
	slices.Sort(loadErrs)
	for _, e := range loadErrs {
		t.Error(e)
	}
	problems, unmatched := check(pkgs, rules)
	for _, p := range problems {
		t.Error(p)
	}
	for _, r := range unmatched {
		if r.absent != "" {
			t.Logf("rule about %s matches no package: %s", r.from, r.absent)
			continue
		}
		t.Errorf("rule about %s matches no package: was it renamed? (rule: %s)", r.from, r.why)
	}
}

// TestRulesFire proves each rule catches what it forbids, and lets pass
// what it allows, on a made-up graph: for every rule, a package it covers
// imports each forbidden prefix (through a third-party package when the
// rule is about dependencies) and each allowed one.
func TestRulesFire(t *testing.T) {
	for i, r := range rules {
		t.Run(fmt.Sprintf("%d:%s", i, strings.TrimPrefix(r.from, module)), func(t *testing.T) {
			importer := r.from + "/x"
			pkgs := map[string]*pkg{}
			add := func(path string, inMod bool, imports ...string) {
				pkgs[path] = &pkg{path: path, inMod: inMod, imports: imports}
			}
			var direct, want []string
			for _, f := range r.forbid {
				bad := f + "/bad"
				if r.deps {
					// importer -> example.com/middle/N -> bad
					mid := fmt.Sprintf("example.com/middle/%d", len(direct))
					add(mid, false, bad)
					direct = append(direct, mid)
					want = append(want, strings.Join([]string{importer, mid, bad}, " -> "))
				} else {
					direct = append(direct, bad)
					want = append(want, importer+" imports "+bad)
				}
				add(bad, under(bad, module))
			}
			for _, a := range r.allow {
				direct = append(direct, a+"/ok")
				add(a+"/ok", under(a, module))
			}
			add(importer, true, direct...)
			// The module's packages know their deps: collect them.
			for _, pk := range pkgs {
				if pk.inMod {
					pk.deps = closure(pkgs, pk.path)
				}
			}
			// Exempt importers and the allowed packages themselves
			// break no rule.
			for _, e := range r.exempt {
				add(e+"/y", true, r.forbid[0]+"/bad")
				pkgs[e+"/y"].deps = closure(pkgs, e+"/y")
			}

			problems, unmatched := check(pkgs, []rule{r})
			if len(unmatched) != 0 {
				t.Fatalf("rule matched no package of the made-up graph")
			}
			if len(problems) != len(want) {
				t.Errorf("%d problems, want %d:\n%s", len(problems), len(want), strings.Join(problems, "\n"))
			}
			for _, w := range want {
				if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, w) }) {
					t.Errorf("no problem says %q; got:\n%s", w, strings.Join(problems, "\n"))
				}
			}
		})
	}
}

// closure lists every package path reaches through imports.
func closure(pkgs map[string]*pkg, path string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		pk := pkgs[p]
		if pk == nil {
			return
		}
		for _, imp := range pk.imports {
			if !seen[imp] {
				seen[imp] = true
				walk(imp)
			}
		}
	}
	walk(path)
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// contractUsers are the packages on either side of internal/contract's
// agreements: each must import it directly, so that the agreement is one
// declaration the compiler checks on both sides.
var contractUsers = []string{m("beamtranslate"), m("localrunner/internal/plan"), m("localrunner/internal/worker")}

// TestContractsDeclaredOnce checks the arrows into internal/contract and
// that no other package spells one of its URNs (string literals starting
// "streams.dev/") instead of using the constant.
func TestContractsDeclaredOnce(t *testing.T) {
	pkgs := goList(t)
	for _, p := range contractUsers {
		pk, ok := pkgs[p]
		if !ok {
			t.Errorf("%s is not listed: was it renamed? (update contractUsers)", p)
			continue
		}
		if !slices.Contains(pk.imports, m("internal/contract")) {
			t.Errorf("%s does not import %s: an agreement with the other side is not checked by the compiler", p, m("internal/contract"))
		}
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (strings.HasPrefix(d.Name(), ".") || path == filepath.Join(root, "internal", "contract")):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if i := bytes.Index(b, []byte(`"streams.dev/`)); i >= 0 {
			line := bytes.Count(b[:i], []byte("\n")) + 1
			t.Errorf("%s:%d spells a URN of internal/contract: use the constant", path, line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// moduleRoot returns the directory of the module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}
