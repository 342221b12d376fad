package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/streams-dev/streams/component"
)

// The keys each mapping of the known structure accepts.
var (
	topKeys          = []string{"env", "metrics", "pipeline", "sentry_sdk_config"}
	sentryKeys       = []string{"dsn", "environment", "release", "sample_rate", "step_errors_per_minute"}
	pipelineKeys     = []string{"adapter_config", "segments"}
	adapterKeys      = []string{"arroyo", "beam", "local"}
	arroyoKeys       = []string{"write_healthcheck"}
	segmentKeys      = []string{"parallelism", "steps_config"}
	dlqKeys          = []string{"bootstrap_servers", "override_params", "topic"}
	parallelismKeys  = []string{"multi_process"}
	multiProcessKeys = []string{
		"batch_size", "batch_time", "input_block_size", "max_input_block_size",
		"max_output_block_size", "output_block_size", "processes",
	}
	timedeltaKeys = []string{"days", "hours", "microseconds", "milliseconds", "minutes", "seconds", "weeks"}
	// stepKeys is every key any built-in step kind accepts; Validate
	// narrows it down by kind. The keys of the components given to Parse
	// come on top (stepKeysWith).
	stepKeys = []string{
		"auto_offset_reset", "batch_size",
		"batch_timedelta", "bootstrap_servers", "changelog_replication_factor", "codec", "commit_interval_ms", "commit_records", "consumer_group", "dlq",
		"internal_topic_partitions", "on_invalid", "on_late", "override_params", "parallelism", "processing_guarantee", "schema_dir", "starts_segment",
		"strict_offset_reset", "topic", "watermark_idle_ms", "watermark_idle_wall_clock", "watermark_max_skew_ms",
	}
	onInvalidPolicies = []string{string(OnInvalidStop), string(OnInvalidSkip)}
	onLatePolicies    = []string{string(OnLateDLQ), string(OnLateDrop)}
	guarantees        = []string{string(AtLeastOnce), string(ExactlyOnce)}
	// codecs are the source stream's codecs (codec), as dsl.ParseCodec reads them.
	codecs      = []string{"json", "msgpack", "protobuf"}
	metricsKeys = map[MetricsType][]string{
		MetricsDummy:      {"type"},
		MetricsLog:        {"period_sec", "tags", "type"},
		MetricsDatadog:    {"flush_interval_ms", "host", "port", "tags", "type", "udp_queue_size"},
		MetricsPrometheus: {"address", "path", "type", "web_config_file"},
	}
	allMetricsKeys = []string{
		"address", "flush_interval_ms", "host", "path", "period_sec", "port",
		"tags", "type", "udp_queue_size", "web_config_file",
	}
	// noAdapterKeys say why adapter_config.local and .beam take no keys.
	noAdapterKeys = map[string]string{
		"local": "adapter_config.local takes no keys yet: the bundled runner is set up by steps_config and the command line (--state-dir, ...)",
		"beam":  "adapter_config.beam takes no keys yet: a Beam runner takes its options on the command line (--runner, --endpoint, ...)",
	}
	// unsupported are Sentry Streams keys we know and do not implement.
	unsupported = map[string]string{
		"additional_settings": "additional_settings is not supported; put client properties in override_params",
		"bucket":              "GCS sinks are not supported",
	}
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

// config reads the root mapping.
func (d *decoder) config(root *yaml.Node) *Config {
	c := &Config{}
	if root != nil && !isNull(root) && resolve(root).Kind != yaml.MappingNode {
		d.problem(root, "", nil, "a config must be a mapping with the keys env, metrics and pipeline; got %s", describe(root))
		return c
	}
	entries, _ := d.fields(root, "", 0, topKeys)
	hasPipeline := false
	for _, e := range entries {
		switch e.key {
		case "env":
			c.Env = d.freeMap(e.val, e.path, 1)
		case "metrics":
			c.Metrics = d.metrics(e.val, e.path)
		case "sentry_sdk_config":
			c.Sentry = d.sentry(e)
		case "pipeline":
			hasPipeline = true
			c.Pipeline = d.pipeline(e)
		}
	}
	if !hasPipeline {
		d.missing(root, "", "pipeline")
	}
	return c
}

func (d *decoder) metrics(n *yaml.Node, path string) Metrics {
	m := Metrics{Set: map[string]bool{}}
	entries, ok := d.mapping(n, path, 1)
	if !ok {
		return m
	}
	// The type decides which keys apply. Without one it is dummy; with a
	// bad one every metrics key is let through, so that one mistake does
	// not cascade into a problem per key.
	typ, accepted := MetricsDummy, metricsKeys[MetricsDummy]
	for _, e := range entries {
		if e.key != "type" {
			continue
		}
		accepted = allMetricsKeys
		s, ok := d.str(e.val, e.path)
		if !ok {
			break
		}
		if keys, known := metricsKeys[MetricsType(s)]; known {
			typ, accepted = MetricsType(s), keys
			m.Type = typ
		} else {
			d.problem(e.val, e.path, nil, "unknown metrics type %q%s; want one of %s",
				s, didYouMean(s, metricsTypes), strings.Join(metricsTypes, ", "))
		}
	}
	for _, e := range entries {
		if !slices.Contains(accepted, e.key) {
			if slices.Contains(allMetricsKeys, e.key) {
				d.problem(e.keyN, e.path, nil, "key does not apply to metrics type %s, which accepts: %s",
					typ, strings.Join(accepted, ", "))
			} else {
				d.unknownKey(e, allMetricsKeys)
			}
			continue
		}
		before := len(d.problems)
		m.Set[e.key] = true
		switch e.key {
		case "tags":
			m.Tags, _ = d.stringMap(e.val, e.path, 2)
		case "period_sec":
			m.Period, _ = d.seconds(e.val, e.path)
		case "host":
			m.Host, _ = d.str(e.val, e.path)
		case "port":
			m.Port, _ = d.integer(e.val, e.path)
		case "udp_queue_size":
			m.UDPQueueSize, _ = d.integer(e.val, e.path)
		case "flush_interval_ms":
			m.FlushInterval, _ = d.millis(e.val, e.path)
		case "address":
			m.Address, _ = d.str(e.val, e.path)
		case "path":
			m.Path, _ = d.str(e.val, e.path)
		case "web_config_file":
			m.WebConfigFile, _ = d.str(e.val, e.path)
		}
		d.mark(e.path, before)
	}
	return m
}

func (d *decoder) sentry(se entry) Sentry {
	s := Sentry{Set: map[string]bool{}}
	entries, ok := d.fields(se.val, se.path, 1, sentryKeys)
	if !ok {
		return s
	}
	for _, e := range entries {
		before := len(d.problems)
		s.Set[e.key] = true
		switch e.key {
		case "dsn":
			s.DSN, _ = d.str(e.val, e.path)
		case "environment":
			s.Environment, _ = d.str(e.val, e.path)
		case "release":
			s.Release, _ = d.str(e.val, e.path)
		case "sample_rate":
			s.SampleRate, _ = d.number(e.val, e.path)
		case "step_errors_per_minute":
			s.StepErrorsPerMinute, _ = d.integer(e.val, e.path)
		}
		d.mark(e.path, before)
	}
	if !s.Set["dsn"] {
		d.missing(se.keyN, se.path, "dsn")
	}
	return s
}

func (d *decoder) pipeline(pe entry) Pipeline {
	var p Pipeline
	entries, ok := d.fields(pe.val, pe.path, 1, pipelineKeys)
	if !ok {
		return p
	}
	hasSegments := false
	for _, e := range entries {
		switch e.key {
		case "adapter_config":
			p.AdapterConfig = d.adapterConfig(e.val, e.path)
		case "segments":
			hasSegments = true
			p.Segments = d.segments(e.val, e.path)
		}
	}
	if !hasSegments {
		d.missing(pe.keyN, pe.path, "segments")
	}
	return p
}

func (d *decoder) adapterConfig(n *yaml.Node, path string) AdapterConfig {
	var a AdapterConfig
	entries, _ := d.fields(n, path, 2, adapterKeys)
	for _, e := range entries {
		switch e.key {
		case "arroyo":
			fs, _ := d.fields(e.val, e.path, 3, arroyoKeys)
			for _, f := range fs {
				a.Arroyo.WriteHealthcheck, _ = d.boolean(f.val, f.path)
			}
		case "local", "beam":
			// Kept for the per-runner settings to come; a key given
			// today would be accepted and ignored.
			fs, _ := d.mapping(e.val, e.path, 3)
			for _, f := range fs {
				d.problem(f.keyN, f.path, nil, "%s", noAdapterKeys[e.key])
			}
		}
	}
	return a
}

func (d *decoder) segments(n *yaml.Node, path string) []Segment {
	n = resolve(n)
	if isNull(n) {
		d.problem(n, path, nil, "must list at least one segment")
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.typeProblem(n, path, "a list of segments")
		return nil
	}
	if len(n.Content) == 0 {
		d.problem(n, path, nil, "must list at least one segment")
		return nil
	}
	if !d.visit(n, path, 2) {
		return nil
	}
	segs := make([]Segment, 0, len(n.Content))
	for i, sn := range n.Content {
		sn = resolve(sn)
		p := index(path, i)
		d.pos[p] = position(sn, sn)
		segs = append(segs, d.segment(sn, p))
	}
	return segs
}

func (d *decoder) segment(n *yaml.Node, path string) Segment {
	var s Segment
	entries, _ := d.fields(n, path, 3, segmentKeys)
	for _, e := range entries {
		before := len(d.problems)
		switch e.key {
		case "parallelism":
			s.Parallelism, _ = d.integer(e.val, e.path)
		case "steps_config":
			steps, _ := d.mapping(e.val, e.path, 4)
			s.Steps = make(map[string]StepConfig, len(steps))
			for _, st := range steps {
				s.StepNames = append(s.StepNames, st.key)
				s.Steps[st.key] = d.step(st.val, st.path)
			}
		}
		d.mark(e.path, before)
	}
	return s
}

func (d *decoder) step(n *yaml.Node, path string) StepConfig {
	sc := StepConfig{Set: map[string]bool{}}
	entries, _ := d.fields(n, path, 5, stepKeysWith(d.components))
	for _, e := range entries {
		before := len(d.problems)
		sc.Set[e.key] = true
		switch e.key {
		case "starts_segment":
			sc.StartsSegment, _ = d.boolean(e.val, e.path)
		case "bootstrap_servers":
			sc.BootstrapServers, _ = d.strings(e.val, e.path, 6)
		case "topic":
			sc.Topic, _ = d.str(e.val, e.path)
		case "consumer_group":
			sc.ConsumerGroup, _ = d.str(e.val, e.path)
		case "auto_offset_reset":
			if s, ok := d.oneOf(e.val, e.path, offsetResets); ok {
				sc.AutoOffsetReset = OffsetReset(s)
			}
		case "strict_offset_reset":
			sc.StrictOffsetReset, _ = d.boolean(e.val, e.path)
		case "processing_guarantee":
			if s, ok := d.oneOf(e.val, e.path, guarantees); ok {
				sc.ProcessingGuarantee = Guarantee(s)
			}
		case "codec":
			sc.Codec, _ = d.oneOf(e.val, e.path, codecs)
		case "schema_dir":
			sc.SchemaDir, _ = d.str(e.val, e.path)
		case "on_invalid":
			if s, ok := d.oneOf(e.val, e.path, onInvalidPolicies); ok {
				sc.OnInvalid = OnInvalid(s)
			}
		case "on_late":
			if s, ok := d.oneOf(e.val, e.path, onLatePolicies); ok {
				sc.OnLate = OnLate(s)
			}
		case "override_params":
			sc.OverrideParams, _ = d.stringMap(e.val, e.path, 6)
		case "dlq":
			sc.DLQ = d.dlq(e.val, e.path)
		case "parallelism":
			sc.Parallelism, sc.MultiProcess = d.parallelism(e.val, e.path)
		case "commit_interval_ms":
			sc.CommitInterval, _ = d.millis(e.val, e.path)
		case "commit_records":
			sc.CommitRecords, _ = d.integer(e.val, e.path)
		case "watermark_max_skew_ms":
			sc.WatermarkMaxSkew, _ = d.millis(e.val, e.path)
		case "watermark_idle_ms":
			sc.WatermarkIdle, _ = d.millis(e.val, e.path)
		case "watermark_idle_wall_clock":
			sc.WatermarkIdleWallClock, _ = d.boolean(e.val, e.path)
		case "changelog_replication_factor":
			sc.ChangelogReplicationFactor, _ = d.integer(e.val, e.path)
		case "internal_topic_partitions":
			sc.InternalTopicPartitions, _ = d.integer(e.val, e.path)
		case "batch_size":
			sc.BatchSize, _ = d.integer(e.val, e.path)
		case "batch_timedelta":
			sc.BatchTimedelta, _ = d.timedelta(e.val, e.path)
		default:
			d.componentValue(&sc, e)
		}
		d.mark(e.path, before)
	}
	return sc
}

func (d *decoder) dlq(n *yaml.Node, path string) *DLQConfig {
	dlq := &DLQConfig{}
	entries, _ := d.fields(n, path, 6, dlqKeys)
	for _, e := range entries {
		before := len(d.problems)
		switch e.key {
		case "topic":
			dlq.Topic, _ = d.str(e.val, e.path)
		case "bootstrap_servers":
			dlq.BootstrapServers, _ = d.strings(e.val, e.path, 7)
		case "override_params":
			dlq.OverrideParams, _ = d.stringMap(e.val, e.path, 7)
		}
		d.mark(e.path, before)
	}
	return dlq
}

// parallelism reads an integer or {multi_process: {...}}.
func (d *decoder) parallelism(n *yaml.Node, path string) (int, *MultiProcess) {
	defer d.mark(path, len(d.problems))
	if n != nil && n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && !d.failed[n] && (d.subst[n] || n.ShortTag() == "!!int") {
			p, _ := d.integer(n, path)
			return p, nil
		}
		d.typeProblem(n, path, "an integer or a mapping {multi_process: {processes: N, ...}}")
		return 0, nil
	}
	entries, ok := d.fields(n, path, 6, parallelismKeys)
	if !ok {
		return 0, nil
	}
	if len(entries) == 0 {
		if n == nil || len(n.Content) == 0 {
			d.problem(n, path, nil, "must be an integer or a mapping {multi_process: {processes: N, ...}}; got an empty mapping")
		}
		return 0, nil
	}
	e := entries[0]
	mp := &MultiProcess{Set: map[string]bool{}}
	fs, _ := d.fields(e.val, e.path, 7, multiProcessKeys)
	hasProcesses := false
	for _, f := range fs {
		mp.Set[f.key] = true
		switch f.key {
		case "processes":
			hasProcesses = true
			mp.Processes, _ = d.integer(f.val, f.path)
		case "batch_size":
			mp.BatchSize, _ = d.integer(f.val, f.path)
		case "batch_time":
			mp.BatchTime, _ = d.seconds(f.val, f.path)
		case "input_block_size":
			mp.InputBlockSize, _ = d.integer(f.val, f.path)
		case "output_block_size":
			mp.OutputBlockSize, _ = d.integer(f.val, f.path)
		case "max_input_block_size":
			mp.MaxInputBlockSize, _ = d.integer(f.val, f.path)
		case "max_output_block_size":
			mp.MaxOutputBlockSize, _ = d.integer(f.val, f.path)
		}
	}
	if !hasProcesses {
		d.missing(e.keyN, e.path, "processes")
	}
	return mp.Processes, mp
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
