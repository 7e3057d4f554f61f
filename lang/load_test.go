package lang

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// summaries lists "line: summary" for each diagnostic, for compact tables.
func summaries(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		out = append(out, strings.Join([]string{sev, strconv.Itoa(line), d.Summary}, ": "))
	}
	return out
}

func TestLoadDesignExample(t *testing.T) {
	cfg, diags := Load("testdata/design", Options{})
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics: %v", diags)
	}
	s := cfg.Site()
	if s == nil || s.Name != "harbour-view" || s.Country.Value != "IE" || s.Installer.Email.Value != "support@dds.example" {
		t.Fatalf("site decoded wrongly: %+v", s)
	}
	if got := s.Features.Voicemail.Value; got != "*97" {
		t.Errorf("default voicemail code = %q, want *97", got)
	}
	if len(cfg.Users) != 1 {
		t.Fatalf("got %d users, want 1", len(cfg.Users))
	}
	u := cfg.Users[0]
	got := []string{u.Name, u.Email.Value, u.Residence.String(), u.Role.Value, u.Extension.Number, u.Conference.Value, u.RingTimeout.Value.String(), u.Numbers[0].Value}
	want := []string{"mary", "mary@example.com", "residence.apt-1a", "owner", "101", "8101", "25s", "+35315550101"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}
	if !u.App.Value || !u.Voicemail.Value || !u.SendCredentials.Value || u.Directory.Value != true {
		t.Errorf("booleans decoded wrongly: %+v", u)
	}
	if r := cfg.Residences[0]; r.NoAnswer.Value != "voicemail" || r.NoAnswer.Set || r.Label.Value != "1A" {
		t.Errorf("residence defaults wrong: %+v", r)
	}
	gate := cfg.Devices[0]
	if gate.Name != "front-gate" || len(gate.Buttons) != 1 || gate.Buttons[0].Calls.String() != "residence.apt-1a" {
		t.Errorf("front-gate buttons decoded wrongly: %+v", gate.Buttons)
	}
	if r := gate.Relays[0]; r.Name != "door" || r.DTMF.Value != "#" || r.Hold.Value != 5*time.Second {
		t.Errorf("relay decoded wrongly: %+v", r)
	}
	tr := cfg.Trunks[0]
	if !tr.Password.Sensitive || tr.Password.Value != "s3cret" || tr.Username.Sensitive {
		t.Errorf("trunk secrets: password sensitive=%v, username sensitive=%v", tr.Password.Sensitive, tr.Username.Sensitive)
	}
}

const siteHeader = `
site "s" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "s.example"
  installer {
    company = "Doors Ltd"
    email   = "i@doors.example"
  }
}
`

func TestLoadDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		src  string // appended after siteHeader (10 lines)
		want []string
	}{
		{"unknown attribute", `
user "a" {
  email = "a@x.example"
  emial = "b"
}`, []string{"error: 14: Unsupported argument"}},
		{"unknown block", `
resident "a" {}`, []string{"error: 12: Unsupported block type"}},
		{"undeclared reference", `
residence "apt-1a" {}
user "a" {
  email     = "a@x.example"
  residence = residence.apt-1b
}`, []string{"error: 15: Reference to undeclared residence"}},
		{"string instead of reference", `
residence "apt-1a" {}
user "a" {
  email     = "a@x.example"
  residence = "apt-1a"
}`, []string{"error: 15: Invalid reference"}},
		{"reference of the wrong kind", `
user "a" { email = "a@x.example" }
device "d" {
  model = "akuvox-r29c"
  mac   = "0C:11:05:00:00:01"
  button "1" { calls = device.d }
}`, []string{"error: 16: Invalid reference"}},
		{"duplicate user", `
user "a" { email = "a@x.example" }
user "a" { email = "b@x.example" }`, []string{"error: 13: Duplicate user"}},
		{"duplicate relay", `
device "d" {
  model = "akuvox-r29c"
  mac   = "0C:11:05:00:00:01"
  relay "door" { dtmf = "#" }
  relay "door" { dtmf = "*" }
}`, []string{"error: 16: Duplicate relay"}},
		{"bad duration", `
residence "r" { ring_timeout = "thirty" }`, []string{"error: 12: Invalid duration"}},
		{"bad ring", `
residence "r" { ring = "simultanous" }`, []string{"error: 12: Invalid value"}},
		{"bad extension", `
user "a" {
  email     = "a@x.example"
  extension = "1x1"
}`, []string{"error: 14: Invalid extension"}},
		{"undeclared local", `
locals { a = local.b }`, []string{"error: 12: Reference to undeclared local value"}},
		{"local cycle", `
locals {
  a = local.b
  b = local.a
}`, []string{"error: 13: Cycle in local values", "error: 14: Cycle in local values"}},
		{"missing required", `
device "d" { model = "akuvox-r29c" }`, []string{"error: 12: Missing required argument"}},
		{"required variable", `
variable "pw" {}`, []string{"error: 12: No value for required variable"}},
		{"variable default of wrong type", `
variable "n" {
  type    = number
  default = "many"
}`, []string{"error: 14: Invalid default value for variable"}},
		{"second installer", `
site "t" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "t.example"
  installer {
    company = "A"
    email   = "a@a.example"
  }
  installer {
    company = "B"
    email   = "b@b.example"
  }
}`, []string{"error: 20: Duplicate installer block"}},
		{"leading zero", `
user "a" {
  email     = "a@x.example"
  extension = 0101
}`, []string{"warning: 14: Leading zero dropped"}},
		{"syntax error", `
user "a" {`, []string{"error: 12: Unclosed configuration block"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := LoadSources(t.TempDir(), map[string][]byte{"site.pbx.hcl": []byte(siteHeader + tt.src)}, Options{})
			if diff := cmp.Diff(tt.want, summaries(diags)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\n%s", diff, diags)
			}
		})
	}
}

func TestVariablePrecedence(t *testing.T) {
	dir := t.TempDir()
	varFile := filepath.Join(dir, "site.pbxvars.hcl")
	if err := os.WriteFile(varFile, []byte("from_file = \"file\"\nfrom_flag = \"file\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := siteHeader + `
variable "from_default" { default = "default" }
variable "from_env"     { default = "default" }
variable "from_file" { default = "default" }
variable "from_flag" { default = "default" }
variable "count" {
  type    = number
  default = 1
}
trunk "t" {
  host     = "${var.from_default}.${var.from_env}.${var.from_file}.${var.from_flag}"
  numbers  = [for i in range(var.count) : format("+3531555010%d", i)]
}
`
	cfg, diags := LoadSources(dir, map[string][]byte{"site.pbx.hcl": []byte(src)}, Options{
		Environ:  []string{"SWITCHBOARD_VAR_from_env=env", "SWITCHBOARD_VAR_from_file=env", "SWITCHBOARD_VAR_count=3", "OTHER=1"},
		VarFiles: []string{varFile},
		Vars:     map[string]string{"from_flag": "flag"},
	})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if got, want := cfg.Trunks[0].Host.Value, "default.env.file.flag"; got != want {
		t.Errorf("host = %q, want %q", got, want)
	}
	if got := len(cfg.Trunks[0].Numbers); got != 3 {
		t.Errorf("numbers from SWITCHBOARD_VAR_count=3: got %d", got)
	}
}

func TestUndeclaredVariableFlag(t *testing.T) {
	_, diags := LoadSources(t.TempDir(), map[string][]byte{"site.pbx.hcl": []byte(siteHeader + `variable "trunk_user" { default = "x" }`)},
		Options{Vars: map[string]string{"trunk_usr": "y"}})
	if len(diags) != 1 || !strings.Contains(diags[0].Detail, `Did you mean "trunk_user"?`) {
		t.Fatalf("got %v, want one did-you-mean diagnostic", diags)
	}
}

// A sensitive value must not reach any diagnostic text, snippets included.
func TestSensitiveValueNeverPrinted(t *testing.T) {
	const secret = "hunter2-very-secret"
	src := siteHeader + `
variable "pw" { sensitive = true }
user "a" {
  email     = "a@x.example"
  extension = var.pw
  mobile    = tonumber(var.pw)
}
`
	cfg, diags := LoadSources(t.TempDir(), map[string][]byte{"site.pbx.hcl": []byte(src)},
		Options{Environ: []string{"SWITCHBOARD_VAR_pw=" + secret}})
	if !diags.HasErrors() {
		t.Fatal("expected errors")
	}
	var buf bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&buf, cfg.Files, 100, false)
	if err := w.WriteDiagnostics(diags); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), secret) {
		t.Fatalf("secret printed:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "sensitive") {
		t.Errorf("expected hcl to say the value is sensitive:\n%s", buf.String())
	}
}

func TestDynamicBlocksFromCSV(t *testing.T) {
	dir := t.TempDir()
	csv := "flat,label,first,email\napt-1,1,Ann,ann@x.example\napt-2,2,Bo,bo@x.example\n"
	if err := os.WriteFile(filepath.Join(dir, "residents.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	src := siteHeader + `
locals {
  residents = csvdecode(file("residents.csv"))
}
dynamic "residence" {
  for_each = local.residents
  labels   = [residence.value.flat]
  content {
    label = residence.value.label
  }
}
dynamic "user" {
  for_each = local.residents
  labels   = [lower(user.value.first)]
  content {
    first_name = user.value.first
    email      = user.value.email
    residence  = residence[user.value.flat]
    extension  = "auto"
  }
}
device "gate" {
  model  = "akuvox-r29c"
  mac    = "0C:11:05:00:00:01"
  keypad = true
  dynamic "button" {
    for_each = local.residents
    labels   = [button.value.label]
    content {
      calls = residence[button.value.flat]
    }
  }
}
`
	cfg, diags := LoadSources(dir, map[string][]byte{"site.pbx.hcl": []byte(src)}, Options{})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	var got []string
	for _, u := range cfg.Users {
		got = append(got, u.Name+"→"+u.Residence.Name)
	}
	for _, b := range cfg.Devices[0].Buttons {
		got = append(got, b.Label+"→"+b.Calls.Name)
	}
	want := []string{"ann→apt-1", "bo→apt-2", "1→apt-1", "2→apt-2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !cfg.Users[0].Extension.Auto {
		t.Error("extension = \"auto\" not decoded")
	}
}

func TestLockRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l := &Lock{Extensions: map[string]string{"tom": "105", "ann": "104", "apt-2-bo": "0107"}}
	wrote, err := WriteLock(dir, l)
	if err != nil || !wrote {
		t.Fatalf("WriteLock = %v, %v", wrote, err)
	}
	wrote, err = WriteLock(dir, l)
	if err != nil || wrote {
		t.Fatalf("second WriteLock rewrote an unchanged lock: %v, %v", wrote, err)
	}
	got, diags := readLock(dir)
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if diff := cmp.Diff(l.Extensions, got.Extensions); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	src, _ := os.ReadFile(filepath.Join(dir, LockFileName))
	if i, j := bytes.Index(src, []byte(`"ann"`)), bytes.Index(src, []byte(`"tom"`)); i < 0 || j < i {
		t.Errorf("lock not sorted by user:\n%s", src)
	}
}

func TestLoadEmptyDir(t *testing.T) {
	_, diags := Load(t.TempDir(), Options{})
	if len(diags) != 1 || diags[0].Summary != "No site files" {
		t.Fatalf("got %v", diags)
	}
}

func TestBadVarFileValueReportedOnce(t *testing.T) {
	dir := t.TempDir()
	varFile := filepath.Join(dir, "v.pbxvars.hcl")
	if err := os.WriteFile(varFile, []byte("n = \"many\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, diags := LoadSources(dir, map[string][]byte{"site.pbx.hcl": []byte(siteHeader + `variable "n" { type = number }`)},
		Options{VarFiles: []string{varFile}})
	if diff := cmp.Diff([]string{"error: 1: Invalid value for variable"}, summaries(diags)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
