package peer

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A missing peer skips the test, and fails it under CI. The test runs
// itself in a child process so the Skip and Fatal are its own.
func TestMissing(t *testing.T) {
	if m := os.Getenv("PEER_TEST_CHILD"); m != "" {
		Require(t, "no-such-peer-program", "install it")
		return
	}
	for _, tt := range []struct {
		ci   string
		want string // in the child's output
	}{
		{"", "--- SKIP: TestMissing"},
		{"false", "--- SKIP: TestMissing"},
		{"true", "--- FAIL: TestMissing"},
	} {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^TestMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "PEER_TEST_CHILD=1", "CI="+tt.ci)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), tt.want) || !strings.Contains(string(out), "no-such-peer-program is not installed") {
			t.Errorf("CI=%q: want %q and the reason in:\n%s", tt.ci, tt.want, out)
		}
	}
}
