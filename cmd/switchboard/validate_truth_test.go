package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"switchboard/compiler"
	"switchboard/compiler/provision"
	"switchboard/lang"
)

// truthSites are every example and fixture site of the repository.
func truthSites(t *testing.T) []string {
	t.Helper()
	var dirs []string
	for _, pattern := range []string{"examples/*", "testdata/valid/*", "testdata/invalid/*"} {
		matches, err := filepath.Glob(filepath.Join("..", "..", pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range matches {
			if files, _ := filepath.Glob(filepath.Join(m, "*"+lang.FileSuffix)); len(files) > 0 {
				dirs = append(dirs, m)
			}
		}
	}
	if len(dirs) < 5 {
		t.Fatalf("found only %d sites: %v", len(dirs), dirs)
	}
	return dirs
}

// TestValidateIsTheWholeTruth walks every example and fixture site and
// holds validate to its promise: it raises every diagnostic build raises
// (same severity, summary and subject), each object's diagnostic once and
// at that object's own range, and a site it accepts builds.
func TestValidateIsTheWholeTruth(t *testing.T) {
	for _, src := range truthSites(t) {
		name := filepath.Base(filepath.Dir(src)) + "/" + filepath.Base(src)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// validate and build write the lock file and the build: work
			// on a copy.
			dir := filepath.Join(t.TempDir(), "site")
			if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			c := &cli{stdout: io.Discard, stderr: io.Discard, environ: []string{"SWITCHBOARD_SITE_KEY=" + testSiteKey}}
			opts := siteOptions{vars: varsFlag{}}
			validated := c.loadSite(dir, opts, compiler.CompileOptions{})
			built, err := c.compile(dir, compileOptions{site: opts, needKey: true, render: true})
			if err != nil {
				t.Fatal(err)
			}

			type key struct {
				severity hcl.DiagnosticSeverity
				summary  string
				subject  string
			}
			keyOf := func(d *hcl.Diagnostic) key {
				k := key{severity: d.Severity, summary: d.Summary}
				if d.Subject != nil {
					k.subject = d.Subject.String()
				}
				return k
			}
			raised := map[key]bool{}
			for _, d := range validated.diags {
				raised[keyOf(d)] = true
			}
			// build renders the bundle with the key (provision.Render);
			// validate has no key and checks it (provision.Check).
			if !built.diags.HasErrors() && built.bundle == nil {
				t.Fatal("build rendered no bundle")
			}
			for _, d := range built.diags {
				if !raised[keyOf(d)] {
					t.Errorf("build raises %q at %s; validate does not", d.Summary, keyOf(d).subject)
				}
			}

			// Counted before the CLI drops exact repeats (sortDiagnostics),
			// which would hide a stage saying the same thing twice.
			raw := validated.diags
			if validated.cfg != nil && validated.checked != nil {
				_, raw = compiler.Compile(validated.cfg, compiler.CompileOptions{})
			}
			once := map[string]int{}
			for _, d := range raw {
				once[fmt.Sprintf("%v %s %s: %s", d.Severity, keyOf(d).subject, d.Summary, d.Detail)]++
			}
			for d, n := range once {
				if n > 1 {
					t.Errorf("validate raises %d times: %s", n, d)
				}
			}

			if validated.cfg != nil {
				blocks := deviceBlocks(validated.cfg)
				for _, d := range validated.diags {
					w, ok := d.Extra.(*provision.WarningDevices)
					if !ok {
						continue
					}
					if len(w.Devices) != 1 {
						t.Errorf("%s at %s is about %d devices, not one", d.Summary, keyOf(d).subject, len(w.Devices))
						continue
					}
					own, found := blocks[w.Devices[0]]
					// The CLI names files as the person running it would
					// (displayPaths); the model, relative to the site.
					own.Filename = displayName(dir, own.Filename)
					if !found || d.Subject == nil || !inside(*d.Subject, own) {
						t.Errorf("warning about device %q is at %s, outside its block %s", w.Devices[0], keyOf(d).subject, own)
					}
				}
			}

			if !validated.diags.HasErrors() && built.diags.HasErrors() {
				t.Errorf("validate accepts the site but build fails:\n%s", describeDiags(built.diags))
			}
			if built.diags.HasErrors() != validated.diags.HasErrors() {
				t.Errorf("validate errors: %v, build errors: %v", validated.diags.HasErrors(), built.diags.HasErrors())
			}

			// The commands themselves agree.
			vs := runValidate(c, []string{dir})
			bs := runBuild(c, []string{"-o", t.TempDir(), dir})
			if vs == exitOK && bs != exitOK {
				t.Errorf("validate exits %d, build exits %d", vs, bs)
			}
		})
	}
}

// deviceBlocks maps each device's name to its whole block, or to the
// dynamic block that makes it: the range its diagnostics belong in.
func deviceBlocks(cfg *lang.Config) map[string]hcl.Range {
	byDecl := map[hcl.Range]hcl.Range{}
	var walk func(b *hclsyntax.Block)
	walk = func(b *hclsyntax.Block) {
		byDecl[b.DefRange()] = b.Range()
		for _, inner := range b.Body.Blocks {
			walk(inner)
		}
	}
	for _, f := range cfg.Files {
		if body, ok := f.Body.(*hclsyntax.Body); ok {
			for _, b := range body.Blocks {
				walk(b)
			}
		}
	}
	out := map[string]hcl.Range{}
	for _, d := range cfg.Devices {
		if r, ok := byDecl[d.DeclRange]; ok {
			out[d.Name] = r
		}
	}
	return out
}

func inside(r, outer hcl.Range) bool {
	return r.Filename == outer.Filename && outer.Start.Byte <= r.Start.Byte && r.End.Byte <= outer.End.Byte
}

func describeDiags(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		where := "(no range)"
		if d.Subject != nil {
			where = d.Subject.String()
		}
		fmt.Fprintf(&b, "  %s: %s: %s\n", where, d.Summary, d.Detail)
	}
	return b.String()
}
