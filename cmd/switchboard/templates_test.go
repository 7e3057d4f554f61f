package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler"
	"switchboard/compiler/provision"
	"switchboard/lang"
)

// TestInitTemplates starts a site from every template as an installer
// would (init), and checks that it validates without a warning about the
// site, builds, and passes every case of "switchboard test". No template
// draws a warning (the Akuvox monitors' contacts and unlock code are
// provisioned now); the list per template stays so that one that must can
// say so.
func TestInitTemplates(t *testing.T) {
	t.Parallel()
	wantWarnings := map[string][]string{
		"minimal":   nil,
		"house":     nil,
		"apartment": nil,
		"office":    nil,
	}
	for _, tmpl := range siteTemplates {
		t.Run(tmpl.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "Harbour "+tmpl.name)
			runOK(t, "init", "-template", tmpl.name, dir)

			cfg, diags := lang.Load(dir, lang.Options{})
			if diags.HasErrors() {
				t.Fatalf("the %s template does not load: %v", tmpl.name, diags)
			}
			_, more := compiler.Compile(cfg, compiler.CompileOptions{})
			diags = append(diags, more...)
			var got []string
			for _, d := range diags {
				w, ok := d.Extra.(*provision.WarningDevices)
				if d.Severity == hcl.DiagWarning && ok {
					got = append(got, strings.Join(append(slices.Clone(w.Devices), w.Model, w.Feature), " "))
					continue
				}
				t.Errorf("the %s template: %s: %s", tmpl.name, d.Summary, d.Detail)
			}
			slices.Sort(got)
			want := slices.Clone(wantWarnings[tmpl.name])
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("the %s template's device warnings (-want +got):\n%s", tmpl.name, diff)
			}

			runOK(t, "fmt", "-check", dir)
			runOK(t, "build", "-o", filepath.Join(t.TempDir(), "out"), dir)
			out := runOK(t, "test", dir)
			if !regexp.MustCompile(`(?m)^[1-9][0-9]* passed, 0 failed, [0-9]+ skipped`).MatchString(out) {
				t.Errorf("switchboard test on the %s template:\n%s", tmpl.name, out)
			}
		})
	}
}

// runOK runs the CLI in this process and fails the test unless it exits
// 0; it returns what the command printed on stdout.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if status := run(args, strings.NewReader(""), &stdout, &stderr); status != exitOK {
		t.Fatalf("switchboard %s: exit status %d\n%s%s", strings.Join(args, " "), status, stdout.String(), stderr.String())
	}
	return stdout.String()
}
