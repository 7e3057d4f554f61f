// Package peer is how tests that run third-party software (sipp,
// baresip, curl, and later kamailio or chromium) find it, and what they do
// when it is missing.
//
// Away from CI a missing peer skips the test, loudly: the message says
// that the test did NOT run and how to install what it needs, and
// `make test` lists every skip at the end. Under CI (CI=true in the
// environment, as GitHub Actions, GitLab and .ci/run set it) a missing
// peer fails the test instead: CI installs the peers, so a skip there
// would be a gate that silently tests less.
package peer

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// CI reports whether the tests run under CI (CI is set to a true value).
func CI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// Require returns the path of the program name, or, when it is not on
// PATH, calls Missing with install as the way to get it (for example
// "apt-get install -y sip-tester").
func Require(t testing.TB, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	Missing(t, name+" is not installed", install)
	return ""
}

// Missing ends a test that cannot run because of what (a program, a file
// of one, a permission) is missing: it skips the test saying it did NOT
// run and how to fix it, or fails it under CI.
func Missing(t testing.TB, what, fix string) {
	t.Helper()
	if CI() {
		t.Fatal("CI=true, and " + what + ", so " + t.Name() + " cannot run (under CI every interop test must); " + fix)
	}
	t.Skip("SKIPPING: " + what + ", so " + t.Name() + " did NOT run; " + fix)
}
