package compiler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/lang"
)

// TestTrunkPortWrittenOrNot: a trunk's port reaches the IR as written,
// and as 0 when the site writes none — the server then looks the carrier
// up as an SRV service (RFC 3263), which a written port rules out. Before,
// an unwritten port became 5060 and no one could tell.
func TestTrunkPortWrittenOrNot(t *testing.T) {
	dir := filepath.Join("..", "examples", "small-office")
	for _, c := range []struct {
		name string
		edit func(string) string
		want int
	}{
		{"written", func(s string) string { return s }, 5061},
		{"not written", func(s string) string { return strings.Replace(s, `port      = "5061"`, "", 1) }, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := map[string][]byte{}
			files, _ := filepath.Glob(filepath.Join(dir, "*.pbx.hcl"))
			for _, f := range files {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				src[filepath.Base(f)] = []byte(c.edit(string(b)))
			}
			cfg, diags := lang.LoadSources(".", src, lang.Options{})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			out, diags := Compile(cfg, CompileOptions{})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if got := out.Program.Trunks[0].Port; got != c.want {
				t.Errorf("IR port %d, want %d", got, c.want)
			}
		})
	}
}
