package ir_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeaf enforces the import policy of the design card: the IR is a leaf
// that the runtime can import without the compiler or the HCL toolchain.
func TestLeaf(t *testing.T) {
	for pkg, allowed := range map[string][]string{
		"switchboard/compiler/ir": {"switchboard/compiler/ir"},
		// atomicfile writes the site key; it imports only the standard library.
		"switchboard/compiler/credentials": {"switchboard/compiler/credentials", "switchboard/compiler/ir", "switchboard/atomicfile"},
	} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
		if err != nil {
			t.Skipf("go list: %v", err)
		}
		for _, dep := range strings.Fields(string(out)) {
			ok := false
			for _, a := range allowed {
				ok = ok || dep == a
			}
			if !ok {
				t.Errorf("%s imports %s; it may import only the standard library and %v", pkg, dep, allowed)
			}
		}
	}
}
