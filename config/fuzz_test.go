package config

import (
	"errors"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics, that it is deterministic, and
// that a config it returns validates deterministically, without being
// changed, repeating every problem Parse reported.
//
//	go test -run '^$' -fuzz FuzzParse ./config/
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"pipeline: {segments: [{}]}",
		"env: &a {b: *a}\npipeline: {segments: [{}]}\n",
		"metrics: {type: datadog, host: h, port: ${envvar:PORT}}\npipeline: {segments: [{parallelism: 2}]}",
		"pipeline:\n  segments:\n    - steps_config:\n        s: {<<: {topic: t}, parallelism: {multi_process: {processes: 2}}, starts_segment: true}\n",
		"pipeline:\n  segments:\n    - steps_config:\n        s: {batch_timedelta: {weeks: 1e300}, commit_interval_ms: -1e20, dlq: {topic: t}, topic: t}\n",
		"pipeline:\n  segments:\n    - steps_config:\n        s: {bootstrap_servers: \"${envvar:B},x:${envvar:MISSING\", override_params: {acks: \"0\"}}\n",
	} {
		f.Add([]byte(s))
	}
	for _, s := range yamlCrashers {
		f.Add([]byte(s))
	}
	env := envOf("PORT", "8125", "B", "kafka:9092", "EMPTY", "", "WORD", "four")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, env)
		var perr *Error
		if err != nil && (!errors.As(err, &perr) || len(perr.Problems) == 0) {
			t.Fatalf("Parse error %T %v is not an *Error with problems", err, err)
		}
		if c == nil {
			if err == nil {
				t.Fatal("Parse returned neither a config nor an error")
			}
			return
		}
		for _, p := range problemsOf(err) {
			if p.Msg == "" {
				t.Fatalf("problem without a message: %+v", p)
			}
		}

		// Parsing is deterministic.
		c2, err2 := Parse(data, env)
		if !reflect.DeepEqual(c, c2) || errString(err) != errString(err2) {
			t.Fatalf("Parse is not deterministic:\n%v\n---\n%v", err, err2)
		}

		// Validation is deterministic, leaves the config alone and
		// repeats Parse's problems.
		steps := fuzzSteps(c)
		before := *c
		v1 := c.Validate(0, steps)
		v2 := c.Validate(0, steps)
		if errString(v1) != errString(v2) {
			t.Fatalf("Validate is not deterministic:\n%v\n---\n%v", v1, v2)
		}
		if !reflect.DeepEqual(before, *c) {
			t.Fatal("Validate changed the config")
		}
		all := problemsOf(v1)
		for _, p := range problemsOf(err) {
			if !slices.ContainsFunc(all, func(q Problem) bool {
				return q.Line == p.Line && q.Column == p.Column && q.Path == p.Path && q.Msg == p.Msg
			}) {
				t.Fatalf("Validate dropped Parse's problem %q", p.Error())
			}
		}
		if err == nil {
			// A config that parsed cleanly validates the same after
			// another Parse.
			if v3 := c2.Validate(0, steps); errString(v1) != errString(v3) {
				t.Fatalf("Validate differs between equal configs:\n%v\n---\n%v", v1, v3)
			}
		}

		// The accessors never panic.
		for id := -1; id <= len(c.Pipeline.Segments); id++ {
			seg, err := c.Segment(id)
			if (seg == nil) == (err == nil) {
				t.Fatalf("Segment(%d) = %v, %v", id, seg, err)
			}
			if seg != nil {
				for _, st := range steps {
					seg.Step(st.Name, st.Kind)
				}
			}
		}
	})
}

// fuzzSteps derives a pipeline from the config's first segment: every
// configured step, with a kind chosen by hashing its name, plus one step
// the config does not mention.
func fuzzSteps(c *Config) []StepInfo {
	steps := []StepInfo{{"unconfigured-source", Source}}
	if len(c.Pipeline.Segments) == 0 {
		return steps
	}
	for _, name := range c.Pipeline.Segments[0].StepNames {
		h := fnv.New32a()
		h.Write([]byte(name))
		if h.Sum32()%7 == 0 {
			continue // a configured step the pipeline lacks
		}
		steps = append(steps, StepInfo{name, kindList[h.Sum32()%uint32(len(kindList))]})
	}
	return steps
}

func problemsOf(err error) []Problem {
	var e *Error
	if errors.As(err, &e) {
		return e.Problems
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// yamlCrashers are inputs that crashed earlier versions of the YAML
// library (go-yaml issues 323, 560, 665, 666, 744, 833). Parse must
// report them as problems.
var yamlCrashers = []string{
	"\"\\0\\\r\n", "  0: [\n] 0", "? ? \"\n\" 0", "    - {\n000}0", "0:\n  0: [0\n] 0",
	" \ufeff\n", "? \ufeff\n", "? \ufeff:\n", "0: \ufeff\n", "? \ufeff: \ufeff\n",
	"a:\n.\n-\n", "#\n-\n-\n0", "0: [:!00 \xef", "#\n - - QI\xd7", "! !00 \xf6", "! !!0 \xf7",
}

func TestYAMLCrashers(t *testing.T) {
	for _, s := range yamlCrashers {
		c, err := Parse([]byte(s), envOf())
		if err == nil {
			t.Errorf("%q: no problem reported (config %+v)", s, c)
			continue
		}
		t.Logf("%q: %v", s, err)
	}
}
