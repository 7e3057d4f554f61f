package main

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

func TestDisplayPaths(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	t.Chdir(root)
	tests := []struct {
		name, dir string
		wantFile  string
		wantText  string
	}{
		{"site is the current directory", ".", "site.pbx.hcl",
			`A user named "a" was already declared at site.pbx.hcl:3; see site.pbx.hcl.`},
		{"site below it", "examples/family-home", "examples/family-home/site.pbx.hcl",
			`A user named "a" was already declared at examples/family-home/site.pbx.hcl:3; see examples/family-home/site.pbx.hcl.`},
		{"site given with ./", "./examples/../examples/family-home", "examples/family-home/site.pbx.hcl",
			`A user named "a" was already declared at examples/family-home/site.pbx.hcl:3; see examples/family-home/site.pbx.hcl.`},
		{"site outside it", outside, filepath.ToSlash(filepath.Join(outside, "site.pbx.hcl")),
			`A user named "a" was already declared at ` + filepath.ToSlash(filepath.Join(outside, "site.pbx.hcl")) + `:3; see ` + filepath.ToSlash(filepath.Join(outside, "site.pbx.hcl")) + `.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &hcl.File{Bytes: []byte("x")}
			rng := hcl.Range{Filename: "site.pbx.hcl", Start: hcl.Pos{Line: 5, Column: 1}}
			diags := hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Duplicate user",
				// Names inside other words or paths stay as they are.
				Detail:  `A user named "a" was already declared at site.pbx.hcl:3; see site.pbx.hcl.`,
				Subject: &rng,
			}, {
				Severity: hcl.DiagError,
				Summary:  "Other",
				Detail:   "old-site.pbx.hcl, site.pbx.hcl.bak and x/site.pbx.hcl are other files.",
			}}
			files, got := displayPaths(tt.dir, map[string]*hcl.File{"site.pbx.hcl": f}, diags)
			if files[tt.wantFile] != f || len(files) != 1 {
				t.Errorf("files = %v, want only %q", files, tt.wantFile)
			}
			if diff := cmp.Diff(tt.wantFile, got[0].Subject.Filename); diff != "" {
				t.Errorf("subject (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantText, got[0].Detail); diff != "" {
				t.Errorf("detail (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(diags[1].Detail, got[1].Detail); diff != "" {
				t.Errorf("other files' names changed (-want +got):\n%s", diff)
			}
			if diags[0].Subject.Filename != "site.pbx.hcl" {
				t.Errorf("the input diagnostic was changed")
			}
		})
	}
}
