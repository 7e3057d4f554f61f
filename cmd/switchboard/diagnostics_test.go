package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"switchboard/lang"
)

func rng(file string, line, col, byteOff, endLine, endCol, endByte int) *hcl.Range {
	return &hcl.Range{
		Filename: file,
		Start:    hcl.Pos{Line: line, Column: col, Byte: byteOff},
		End:      hcl.Pos{Line: endLine, Column: endCol, Byte: endByte},
	}
}

func TestSortDiagnostics(t *testing.T) {
	warnB1 := &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "w b:1", Subject: rng("b.pbx.hcl", 1, 1, 0, 1, 2, 1)}
	errB1 := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "e b:1", Subject: rng("b.pbx.hcl", 1, 1, 0, 1, 2, 1)}
	errA9 := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "e a:9", Subject: rng("a.pbx.hcl", 9, 3, 80, 9, 4, 81)}
	errA2c5 := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "e a:2:5", Subject: rng("a.pbx.hcl", 2, 5, 20, 2, 6, 21)}
	errA2c1 := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "e a:2:1", Subject: rng("a.pbx.hcl", 2, 1, 16, 2, 2, 17)}
	noSubject := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "no subject"}
	dup := *errA9

	got := sortDiagnostics(hcl.Diagnostics{warnB1, errB1, errA9, nil, &dup, errA2c5, noSubject, errA2c1})
	var summaries []string
	for _, d := range got {
		summaries = append(summaries, d.Summary)
	}
	want := []string{"no subject", "e a:2:1", "e a:2:5", "e a:9", "e b:1", "w b:1"}
	if diff := cmp.Diff(want, summaries); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestJSONDiagnostic(t *testing.T) {
	src := []byte("user \"mary\" {\n  email = \"x\"\n}\n")
	f, diags := hclsyntax.ParseConfig(src, "people.pbx.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	files := map[string]*hcl.File{"people.pbx.hcl": f}
	ctx := `user "mary"`

	tests := []struct {
		name string
		diag *hcl.Diagnostic
		want jsonDiagnostic
	}{
		{
			name: "no subject",
			diag: &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No site files", Detail: "None."},
			want: jsonDiagnostic{Severity: "error", Summary: "No site files", Detail: "None."},
		},
		{
			name: "attribute value",
			diag: &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "S", Subject: rng("people.pbx.hcl", 2, 11, 24, 2, 14, 27)},
			want: jsonDiagnostic{
				Severity: "warning", Summary: "S",
				Range: &jsonRange{Filename: "people.pbx.hcl", Start: jsonPos{2, 11, 24}, End: jsonPos{2, 14, 27}},
				Snippet: &jsonSnippet{Context: &ctx, Code: `  email = "x"`, StartLine: 2,
					HighlightStartOffset: 10, HighlightEndOffset: 13, Values: []jsonValue{}},
			},
		},
		{
			name: "empty range is widened to one character",
			diag: &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Subject: rng("people.pbx.hcl", 2, 3, 16, 2, 3, 16)},
			want: jsonDiagnostic{
				Severity: "error", Summary: "S",
				Range: &jsonRange{Filename: "people.pbx.hcl", Start: jsonPos{2, 3, 16}, End: jsonPos{2, 4, 17}},
				Snippet: &jsonSnippet{Context: &ctx, Code: `  email = "x"`, StartLine: 2,
					HighlightStartOffset: 2, HighlightEndOffset: 3, Values: []jsonValue{}},
			},
		},
		{
			name: "multi-line subject",
			diag: &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Subject: rng("people.pbx.hcl", 1, 1, 0, 3, 2, 28)},
			want: jsonDiagnostic{
				Severity: "error", Summary: "S",
				Range: &jsonRange{Filename: "people.pbx.hcl", Start: jsonPos{1, 1, 0}, End: jsonPos{3, 2, 28}},
				Snippet: &jsonSnippet{Context: &ctx, Code: "user \"mary\" {\n  email = \"x\"\n}", StartLine: 1,
					HighlightStartOffset: 0, HighlightEndOffset: 28, Values: []jsonValue{}},
			},
		},
		{
			name: "file without source: range only",
			diag: &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Subject: rng("switchboard.lock.hcl", 1, 1, 0, 1, 5, 4)},
			want: jsonDiagnostic{
				Severity: "error", Summary: "S",
				Range: &jsonRange{Filename: "switchboard.lock.hcl", Start: jsonPos{1, 1, 0}, End: jsonPos{1, 5, 4}},
			},
		},
		{
			name: "range past the end of the file: range only",
			diag: &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "S", Subject: rng("people.pbx.hcl", 9, 1, 500, 9, 2, 501)},
			want: jsonDiagnostic{
				Severity: "error", Summary: "S",
				Range: &jsonRange{Filename: "people.pbx.hcl", Start: jsonPos{9, 1, 500}, End: jsonPos{9, 2, 501}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := newJSONDiagnostic(tt.diag, files)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteDiagnosticsJSONEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := writeDiagnosticsJSON(&buf, nil, nil); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"format_version\": \"1.0\",\n  \"valid\": true,\n  \"error_count\": 0,\n  \"warning_count\": 0,\n  \"diagnostics\": []\n}\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var v map[string]any
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
}

// The masks come from lang's own resolution: the -var-file values of
// sensitive and undeclared variables and sensitive defaults, never a
// public variable's value.
func TestSnippetFilesMasksSensitiveValues(t *testing.T) {
	dir := t.TempDir()
	site := "variable \"pw\" {\n  sensitive = true\n  default   = \"default-secret\"\n}\nvariable \"public\" {\n  default = \"visible\"\n}\n"
	varFile := filepath.Join(dir, "secrets.hcl")
	if err := os.WriteFile(varFile, []byte("pw = \"hunter22\"\npublic = \"shown\"\nundeclared = \"hidden\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _ := lang.LoadSources(dir, map[string][]byte{"site.pbx.hcl": []byte(site)}, lang.Options{VarFiles: []string{varFile}})
	files := snippetFiles(cfg)
	want := "pw = **********\npublic = \"shown\"\nundeclared = ********\n"
	if got := string(files[varFile].Bytes); got != want {
		t.Errorf("masked var file:\n%s\nwant:\n%s", got, want)
	}
	if got := string(files["site.pbx.hcl"].Bytes); !strings.Contains(got, `default   = ****************`) || !strings.Contains(got, `"visible"`) {
		t.Errorf("masked site file:\n%s", got)
	}
	if !strings.Contains(string(cfg.Files[varFile].Bytes), "hunter22") {
		t.Error("snippetFiles changed the loaded file")
	}
}

func TestSiteNames(t *testing.T) {
	tests := []struct{ dir, name, display string }{
		{"/sites/harbour-view", "harbour-view", "Harbour View"},
		{"/sites/Dún Laoghaire Flats", "dun-laoghaire-flats", "Dun Laoghaire Flats"},
		{"/sites/14_Moorland.Rise", "14-moorland-rise", "14 Moorland Rise"},
		{"/sites/---", "my-site", "My Site"},
	}
	for _, tt := range tests {
		name, display := siteNames(tt.dir)
		if name != tt.name || display != tt.display {
			t.Errorf("siteNames(%q) = %q, %q; want %q, %q", tt.dir, name, display, tt.name, tt.display)
		}
	}
}

func TestPlural(t *testing.T) {
	for _, tt := range []struct {
		n          int
		noun, want string
	}{
		{0, "residence", "0 residences"},
		{1, "residence", "1 residence"},
		{2, "user", "2 users"},
		{3, "switch", "3 switches"},
	} {
		if got := plural(tt.n, tt.noun); got != tt.want {
			t.Errorf("plural(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
		}
	}
}
