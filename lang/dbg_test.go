package lang

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestDebugLoad(t *testing.T) {
	dir := os.Getenv("DBG_DIR")
	if dir == "" {
		t.Skip()
	}
	cfg, diags := Load(dir, Options{Environ: os.Environ()})
	w := hcl.NewDiagnosticTextWriter(os.Stdout, cfg.Files, 100, false)
	for _, d := range diags {
		if d.Subject != nil {
			println(d.Subject.String())
		}
	}
	w.WriteDiagnostics(diags)
	b, _ := json.MarshalIndent(cfg.Users, "", " ")
	os.Stdout.Write(b[:min(len(b), 3000)])
}
