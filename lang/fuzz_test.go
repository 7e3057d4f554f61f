package lang

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary text to the loader as one site file. A
// configuration mistake must produce diagnostics, never a panic, and every
// error about the file must point into it.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/design/*.pbx.hcl")
	for _, s := range seeds {
		src, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Add(siteHeader + `dynamic "user" {
  for_each = {a = 1}
  labels = [user.key]
  content { email = "x@y.example" }
}`)
	f.Add(`locals { a = local.a }`)
	f.Add(`user "x" { residence = residence[0] }`)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src string) {
		cfg, diags := LoadSources(dir, map[string][]byte{"site.pbx.hcl": []byte(src)}, Options{})
		if cfg == nil {
			t.Fatal("nil config")
		}
		for _, d := range diags {
			// The only source is site.pbx.hcl: a diagnostic pointing
			// anywhere else could not be printed with a snippet.
			if d.Subject != nil && d.Subject.Filename != "site.pbx.hcl" {
				t.Errorf("diagnostic %q points at %q", d.Summary, d.Subject.Filename)
			}
		}
	})
}
