package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/lang"
)

// FuzzCheck feeds arbitrary site files through lang.LoadSources and Check:
// whatever the loader lets through, the check pass must not panic, and
// every diagnostic it makes must point into the site.
func FuzzCheck(f *testing.F) {
	for _, root := range []string{"invalid", "valid"} {
		dirs, _ := filepath.Glob(filepath.Join("..", "testdata", root, "*"))
		for _, dir := range dirs {
			files, _ := filepath.Glob(filepath.Join(dir, "*.pbx.hcl"))
			var b strings.Builder
			for _, file := range files {
				src, err := os.ReadFile(file)
				if err != nil {
					f.Fatal(err)
				}
				b.Write(src)
				b.WriteByte('\n')
			}
			f.Add(b.String())
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg, _ := lang.LoadSources(".", map[string][]byte{"site.pbx.hcl": []byte(src)}, lang.Options{})
		_, diags := Check(cfg)
		for _, d := range diags {
			if d.Subject == nil || d.Subject.Filename != "site.pbx.hcl" {
				t.Fatalf("diagnostic without a range in the site: %s: %s", d.Summary, d.Detail)
			}
		}
	})
}
