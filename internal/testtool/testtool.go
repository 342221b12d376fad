// Package testtool finds the programs that some tests run beside Go: kcat
// (librdkafka's client, for the broker's interop test) and Graphviz's dot
// (for the DOT output of the pipeline picture).
//
// On a developer's machine a missing program skips the test that needs
// it, saying how to install it. Under CI ($CI set, as the CI harness
// runs .ci/run) it fails the test instead: .ci/run installs these
// programs, so a missing one is a broken install step, and a skip would
// hide that the test no longer runs.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// EnvCI names the variable that, when set to anything but "" or
// "false", turns a missing program into a failure.
const EnvCI = "CI"

// CI reports whether the tests run under CI.
func CI() bool {
	v := os.Getenv(EnvCI)
	return v != "" && v != "false"
}

// Path returns the full path of program name. When it is not on $PATH it
// skips t, or under CI fails t; install names the Debian package that
// has it.
func Path(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " is not on $PATH (install it with `apt-get install -y " + install + "`): " + err.Error()
	if CI() {
		t.Fatalf("%s; $%s is set and .ci/run installs it, so this test must run", msg, EnvCI)
	}
	t.Skip(msg)
	return ""
}
