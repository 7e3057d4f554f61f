package lang

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// ResolveVariables is Load's resolution for a caller without site files:
// the same precedence, other names ignored, sensitive values marked.
func TestResolveVariables(t *testing.T) {
	dir := t.TempDir()
	varFile := filepath.Join(dir, "secrets.hcl")
	if err := os.WriteFile(varFile, []byte("pw = \"file\"\nuser = \"file\"\nother = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	decls := []VariableDecl{
		{Name: "pw", Type: cty.String, Sensitive: true},
		{Name: "user", Type: cty.String},
		{Name: "host", Type: cty.String},
		{Name: "missing", Type: cty.String, Sensitive: true},
	}
	opts := Options{
		Environ:  []string{"SWITCHBOARD_VAR_pw=env", "SWITCHBOARD_VAR_host=env", "SWITCHBOARD_VAR_unrelated=x"},
		VarFiles: []string{varFile},
		Vars:     map[string]string{"user": "flag", "unrelated": "y"},
	}
	got, diags := ResolveVariables(decls, opts)
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	plain := map[string]string{}
	sensitive := map[string]bool{}
	for name, v := range got {
		sensitive[name] = v.HasMarkDeep(sensitiveMark)
		v, _ = v.Unmark()
		plain[name] = v.AsString()
	}
	if diff := cmp.Diff(map[string]string{"pw": "file", "user": "flag", "host": "env"}, plain); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]bool{"pw": true, "user": false, "host": false}, sensitive); diff != "" {
		t.Errorf("sensitive (-want +got):\n%s", diff)
	}

	// A value of the wrong type is reported as Load reports it, without
	// the value.
	if err := os.WriteFile(varFile, []byte("pw = [\"TOPSECRET\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, diags = ResolveVariables(decls, Options{VarFiles: []string{varFile}})
	if diff := cmp.Diff([]string{"error: 1: Invalid value for variable"}, summaries(diags)); diff != "" {
		t.Errorf("wrong type (-want +got):\n%s", diff)
	}
	if strings.Contains(diags.Error(), "TOPSECRET") {
		t.Errorf("the value is quoted: %s", diags.Error())
	}
}

// Secret.Literal says whether the value is written in the site files, so
// that the compiler need not read them again.
func TestSecretLiteral(t *testing.T) {
	tests := []struct {
		expr        string
		literal     bool
		source      string
		sensitivity bool
	}{
		{`"harbour"`, true, "", false},
		{`var.pw`, false, "var.pw", true},
		{`var.user`, false, "var.user", false},
		{`"${var.pw}"`, false, "", true},
		{`local.pw`, false, "", true},
		{`lower("HARBOUR")`, true, "", false},
	}
	for _, tt := range tests {
		src := siteHeader + `
variable "pw" {
  sensitive = true
  default   = "s3cret"
}
variable "user" { default = "u" }
locals { pw = var.pw }
trunk "t" {
  host     = "sip.example"
  password = ` + tt.expr + `
}
`
		cfg, diags := LoadSources(t.TempDir(), map[string][]byte{"site.pbx.hcl": []byte(src)}, Options{})
		if len(diags) > 0 {
			t.Fatalf("%s: %v", tt.expr, diags)
		}
		p := cfg.Trunks[0].Password
		if p.Literal != tt.literal || p.Source != tt.source || p.Sensitive != tt.sensitivity {
			t.Errorf("%s: literal %v source %q sensitive %v, want %v %q %v", tt.expr, p.Literal, p.Source, p.Sensitive, tt.literal, tt.source, tt.sensitivity)
		}
	}
}

// Redact hides what a diagnostic about a sensitive value says, knowing
// where those values are from their marks, not from their text.
func TestSensitiveRedact(t *testing.T) {
	src := siteHeader + `
variable "ring" { sensitive = true }
variable "label" { default = "1A" }
residence "a" {
  label = var.label
  ring  = var.ring
}
residence "b" {
  ring = "TOPPUBLIC"
}
`
	cfg, diags := LoadSources(t.TempDir(), map[string][]byte{"site.pbx.hcl": []byte(src)},
		Options{Environ: []string{"SWITCHBOARD_VAR_ring=TOPSECRET"}})
	if diff := cmp.Diff([]string{"error: 16: Invalid value", "error: 19: Invalid value"}, summaries(diags)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	extra := &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "About the expression", Detail: "Kept whole.", Subject: diags[0].Subject, Extra: QuotesNoValue{}}
	got := cfg.Sensitive.Redact(append(diags, extra))
	if strings.Contains(got[0].Detail, "TOPSECRET") || got[0].Detail != hiddenDetail {
		t.Errorf("sensitive detail not hidden: %q", got[0].Detail)
	}
	if !strings.Contains(got[1].Detail, "TOPPUBLIC") {
		t.Errorf("a public value's detail was changed: %q", got[1].Detail)
	}
	if got[2].Detail != "Kept whole." {
		t.Errorf("QuotesNoValue detail changed: %q", got[2].Detail)
	}
	if !strings.Contains(diags[0].Detail, "TOPSECRET") {
		t.Error("the test no longer exercises a diagnostic that quotes the value")
	}
}

// A later stage reports about a whole object at its header and may quote
// any of its values (a provisioning warning quoting a relay's code): the
// headers of the relay and of its device are sensitive too, not those of
// other blocks.
func TestSensitiveBlocks(t *testing.T) {
	src := siteHeader + `
variable "code" { sensitive = true }
device "gate" {
  model = "akuvox-r29c"
  mac   = "0C:11:05:12:34:56"
  relay "door" { dtmf = var.code }
}
device "other" {
  model = "akuvox-r29c"
  mac   = "0C:11:05:12:34:57"
}
`
	cfg, diags := LoadSources(t.TempDir(), map[string][]byte{"site.pbx.hcl": []byte(src)},
		Options{Environ: []string{"SWITCHBOARD_VAR_code=4321"}})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	gate, other := cfg.Devices[0], cfg.Devices[1]
	about := func(r hcl.Range) *hcl.Diagnostic {
		return &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Device feature not provisioned", Detail: `Set the code to "4321".`, Subject: r.Ptr()}
	}
	got := cfg.Sensitive.Redact(hcl.Diagnostics{about(gate.DeclRange), about(gate.Relays[0].DeclRange), about(gate.NameRange), about(other.DeclRange)})
	var hidden []bool
	for _, d := range got {
		hidden = append(hidden, d.Detail == hiddenDetail)
	}
	if diff := cmp.Diff([]bool{true, true, true, false}, hidden); diff != "" {
		t.Errorf("hidden (-want +got):\n%s", diff)
	}
}
