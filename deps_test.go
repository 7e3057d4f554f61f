package switchboard_test

// This file states the import direction of DESIGN.md as policy, in the manner
// of go/build/deps_test.go: every package of the module must match a rule,
// and may import only the packages of ours that its rule allows. A wrong
// import fails `go test ./...`.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "switchboard"

// importRule says what the packages under Prefix may import from this module.
// The first rule whose Prefix matches a package applies, so more specific
// prefixes come first. Standard-library and third-party imports are not
// restricted here.
type importRule struct {
	Prefix string // a package path relative to the module; "" is the module root
	// Allow are prefixes (relative to the module) it may import; "x/..."
	// allows the packages below x but not x itself.
	Allow []string
	Why   string // printed when the rule is broken
}

var importPolicy = []importRule{
	{Prefix: "atomicfile", Allow: nil,
		Why: "atomicfile is a leaf every layer may use for durable writes; it imports only the standard library"},
	{Prefix: "email", Allow: nil,
		Why: "email composes and sends mail for compile time and run time alike; it imports nothing of ours"},
	{Prefix: "lang", Allow: []string{"lang", "atomicfile"},
		Why: "lang knows HCL and imports nothing else of ours"},
	{Prefix: "compiler/ir", Allow: []string{"compiler/ir", "atomicfile"},
		Why: "the IR is the leaf contract between compile time and run time"},
	{Prefix: "compiler/plan", Allow: []string{"compiler/...", "atomicfile", "email"},
		Why: "plan diffs the IR against the state: it reads only what the compiler produced, never the site files"},
	{Prefix: "compiler/apply", Allow: []string{"compiler/...", "atomicfile", "email"},
		Why: "apply carries out a plan from the IR: it reads only what the compiler produced, never the site files"},
	{Prefix: "compiler", Allow: []string{"lang", "compiler", "atomicfile", "email"},
		Why: "compiler imports lang and its own sub-packages"},
	{Prefix: "runtime", Allow: []string{"compiler/ir", "runtime", "atomicfile", "email"},
		Why: "runtime reads only the IR, never HCL nor the rest of compiler"},
	{Prefix: "simulate", Allow: []string{"runtime", "compiler", "simulate", "atomicfile", "email"},
		Why: "simulate drives runtime with what compiler produced"},
	{Prefix: "cmd", Allow: []string{"lang", "compiler", "runtime", "simulate", "atomicfile", "email"},
		Why: "the CLI may import every library package, but not another command"},
	{Prefix: "", Allow: nil,
		Why: "the module root holds only repository-wide tests"},
}

// within reports whether path (relative to the module) is prefix or below it.
func within(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// ruleFor returns the rule that governs pkg (relative to the module).
func ruleFor(pkg string) (importRule, bool) {
	for _, r := range importPolicy {
		if r.Prefix == "" {
			if pkg == "" {
				return r, true
			}
			continue
		}
		if within(pkg, r.Prefix) {
			return r, true
		}
	}
	return importRule{}, false
}

// checkImport returns a non-empty explanation when pkg may not import imp;
// both are relative to the module.
func checkImport(pkg, imp string) string {
	r, ok := ruleFor(pkg)
	if !ok {
		return fmt.Sprintf("package %q is not covered by the import policy; add a rule for it to importPolicy in deps_test.go", modulePath(pkg))
	}
	if within(imp, "cmd") {
		return fmt.Sprintf("%s imports %s: nothing imports cmd", modulePath(pkg), modulePath(imp))
	}
	for _, a := range r.Allow {
		if below, ok := strings.CutSuffix(a, "/..."); ok {
			if strings.HasPrefix(imp, below+"/") {
				return ""
			}
			continue
		}
		if within(imp, a) {
			return ""
		}
	}
	allowed := "nothing of ours"
	if len(r.Allow) > 0 {
		allowed = strings.Join(r.Allow, ", ")
	}
	return fmt.Sprintf("%s imports %s, which is not allowed: %s (allowed: %s)", modulePath(pkg), modulePath(imp), r.Why, allowed)
}

func modulePath(rel string) string {
	if rel == "" {
		return module
	}
	return module + "/" + rel
}

// relative turns an import path into one relative to the module, and reports
// whether it belongs to the module at all.
func relative(path string) (string, bool) {
	if path == module {
		return "", true
	}
	if rest, ok := strings.CutPrefix(path, module+"/"); ok {
		return rest, true
	}
	return "", false
}

func TestImportPolicyTable(t *testing.T) {
	tests := []struct {
		pkg, imp string
		ok       bool
	}{
		{"lang", "lang/funcs", true},
		{"lang", "compiler", false},
		{"lang/funcs", "compiler/ir", false},
		{"compiler/ir", "lang", false},
		{"compiler/ir", "compiler", false},
		{"compiler/ir", "compiler/ir/dump", true},
		{"compiler", "lang", true},
		{"compiler", "compiler/ir", true},
		{"compiler/credentials", "compiler/ir", true},
		{"compiler/plan", "lang", false},
		{"compiler/plan", "compiler/ir", true},
		{"compiler/plan", "compiler", false},
		{"compiler/apply", "lang", false},
		{"compiler/apply/mail", "lang", false},
		{"compiler/apply", "compiler/plan", true},
		{"compiler/apply", "compiler/state", true},
		{"compiler", "runtime", false},
		{"compiler", "simulate", false},
		{"runtime", "compiler/ir", true},
		{"runtime/registrar", "runtime/routing", true},
		{"runtime/provisioning", "runtime/digest", true},
		{"runtime", "compiler", false},
		{"runtime", "compiler/credentials", false},
		{"runtime", "lang", false},
		{"runtime", "simulate", false},
		{"simulate", "runtime", true},
		{"simulate", "compiler/ir", true},
		{"simulate", "compiler", true},
		{"simulate", "lang", false},
		{"cmd/switchboard", "lang", true},
		{"cmd/switchboard", "simulate", true},
		{"cmd/switchboard", "cmd/other", false},
		{"simulate", "cmd/switchboard", false},
		{"", "lang", false},
		{"langx", "lang", false},           // "langx" is not under "lang": no rule
		{"runtimes", "compiler/ir", false}, // likewise
		{"internal/thing", "lang", false},  // uncovered packages fail
		{"lang", "atomicfile", true},
		{"compiler/ir", "atomicfile", true},
		{"runtime/voicemail", "atomicfile", true},
		{"cmd/switchboard", "atomicfile", true},
		{"atomicfile", "lang", false},
		{"compiler/apply", "email", true},
		{"runtime/voicemail", "email", true},
		{"lang", "email", false},
		{"compiler/ir", "email", false},
		{"email", "runtime", false},
	}
	for _, tt := range tests {
		msg := checkImport(tt.pkg, tt.imp)
		if got := msg == ""; got != tt.ok {
			t.Errorf("checkImport(%q, %q) allowed = %v, want %v (%s)", tt.pkg, tt.imp, got, tt.ok, msg)
		}
	}
}

// listedPackage is the part of `go list -json` output this test reads.
type listedPackage struct {
	ImportPath string
	Imports    []string
	Error      *struct{ Err string }
}

func goList(t *testing.T) []listedPackage {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to check the import policy: %v", err)
	}
	cmd := exec.Command(gocmd, "list", "-e", "-json=ImportPath,Imports,Error", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestImportDirection enforces importPolicy on the module's packages
// (production imports; tests may reach further for fixtures).
func TestImportDirection(t *testing.T) {
	pkgs := goList(t)
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	var problems []string
	for _, p := range pkgs {
		if p.Error != nil {
			// A package that does not build fails its own tests; the
			// imports it does list are still checked.
			t.Logf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkg, ours := relative(p.ImportPath)
		if !ours {
			continue
		}
		if _, ok := ruleFor(pkg); !ok {
			problems = append(problems, checkImport(pkg, ""))
			continue
		}
		for _, imp := range p.Imports {
			rel, ours := relative(imp)
			if !ours {
				continue
			}
			if msg := checkImport(pkg, rel); msg != "" {
				problems = append(problems, msg)
			}
		}
	}
	sort.Strings(problems)
	for _, msg := range problems {
		t.Error(msg)
	}
}
