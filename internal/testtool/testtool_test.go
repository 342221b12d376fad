package testtool

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how Path ended the test instead
// of ending it, so that both outcomes can be checked from one test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	panic(r)
}

func (r *recorder) Skip(args ...any) {
	r.skip = "skip"
	panic(r)
}

func run(t *testing.T, name string) (r *recorder) {
	r = &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
	}()
	Path(r, name, "some-package")
	return r
}

// A program on $PATH is found; a missing one skips, or under CI fails.
func TestPath(t *testing.T) {
	const missing = "streams-testtool-no-such-program"
	t.Setenv(EnvCI, "")
	self, err := os.Executable() // a path is looked up as is
	if err != nil {
		t.Fatal(err)
	}
	if r := run(t, self); r.fatal != "" || r.skip != "" {
		t.Errorf("%s: fatal %q, skip %q; want found", self, r.fatal, r.skip)
	}
	if r := run(t, missing); r.skip == "" || r.fatal != "" {
		t.Errorf("missing program without CI: fatal %q, skip %q; want a skip", r.fatal, r.skip)
	}
	for _, v := range []string{"true", "1"} {
		t.Setenv(EnvCI, v)
		if r := run(t, missing); r.fatal == "" || !strings.Contains(r.fatal, "$CI is set") {
			t.Errorf("missing program with CI=%s: fatal %q, skip %q; want a failure", v, r.fatal, r.skip)
		}
	}
	t.Setenv(EnvCI, "false")
	if r := run(t, missing); r.skip == "" {
		t.Errorf("missing program with CI=false: want a skip")
	}
}
