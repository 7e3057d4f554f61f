package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcled"

	"switchboard/lang"
)

// sortDiagnostics returns diags in a stable, reproducible order: problems
// without a source range (command line, file system) first, then by file,
// line, column and severity (errors before warnings). Exact repeats are
// dropped.
func sortDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(diags))
	seen := map[diagKey]bool{}
	for _, d := range diags {
		if d == nil {
			continue
		}
		k := keyOf(d)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool { return diagLess(out[i], out[j]) })
	return out
}

type diagKey struct {
	severity        hcl.DiagnosticSeverity
	summary, detail string
	subject         hcl.Range
}

func keyOf(d *hcl.Diagnostic) diagKey {
	k := diagKey{severity: d.Severity, summary: d.Summary, detail: d.Detail}
	if d.Subject != nil {
		k.subject = *d.Subject
	}
	return k
}

func diagLess(a, b *hcl.Diagnostic) bool {
	if (a.Subject == nil) != (b.Subject == nil) {
		return a.Subject == nil
	}
	if a.Subject != nil {
		as, bs := a.Subject, b.Subject
		if as.Filename != bs.Filename {
			return as.Filename < bs.Filename
		}
		if as.Start.Line != bs.Start.Line {
			return as.Start.Line < bs.Start.Line
		}
		if as.Start.Column != bs.Start.Column {
			return as.Start.Column < bs.Start.Column
		}
	}
	return a.Severity < b.Severity // hcl.DiagError < hcl.DiagWarning
}

// counts returns the number of errors and warnings.
func counts(diags hcl.Diagnostics) (errs, warns int) {
	for _, d := range diags {
		switch d.Severity {
		case hcl.DiagError:
			errs++
		case hcl.DiagWarning:
			warns++
		}
	}
	return errs, warns
}

// snippetFiles returns the files that diagnostics may quote, with the text
// of every sensitive value lang found (-var-file values, sensitive
// defaults) masked, so that no snippet shows it.
func snippetFiles(cfg *lang.Config) map[string]*hcl.File {
	if cfg == nil {
		return nil
	}
	files := make(map[string]*hcl.File, len(cfg.Files))
	for name, f := range cfg.Files {
		files[name] = f
	}
	masked := map[string][]byte{}
	for _, r := range cfg.Sensitive.Text {
		f := files[r.Filename]
		if f == nil || f.Bytes == nil {
			continue
		}
		b := masked[r.Filename]
		if b == nil {
			b = bytes.Clone(f.Bytes)
			masked[r.Filename] = b
		}
		for i := r.Start.Byte; i < r.End.Byte && i < len(b); i++ {
			if b[i] != '\n' && b[i] != '\r' {
				b[i] = '*'
			}
		}
	}
	for name, b := range masked {
		f := files[name]
		files[name] = &hcl.File{Body: f.Body, Bytes: b, Nav: f.Nav}
	}
	return files
}

// forPrinting returns copies of diags safe to print: the expression and
// evaluation context, from which hcl's text writer prints the values of the
// variables an expression uses, are kept only when none of those values
// carries a mark (sensitive values are marked).
func forPrinting(diags hcl.Diagnostics) hcl.Diagnostics {
	out := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		if c.Expression != nil && (c.EvalContext == nil || usesMarkedValue(c.Expression, c.EvalContext)) {
			c.Expression, c.EvalContext = nil, nil
		}
		out[i] = &c
	}
	return out
}

func usesMarkedValue(expr hcl.Expression, ctx *hcl.EvalContext) bool {
	for _, t := range expr.Variables() {
		root, diags := t.SimpleSplit().Abs.TraverseAbs(ctx)
		if diags.HasErrors() || root.ContainsMarked() {
			return true
		}
		v, diags := t.TraverseAbs(ctx)
		if !diags.HasErrors() && v.ContainsMarked() {
			return true
		}
	}
	return false
}

// writeDiagnosticsText prints diags with hcl's text writer: summary, the
// source snippet with the subject highlighted, and the wrapped detail.
// Many diagnostics of one kind are consolidated (consolidate).
func writeDiagnosticsText(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, s style) error {
	return hcl.NewDiagnosticTextWriter(w, files, s.width, s.color).WriteDiagnostics(forPrinting(consolidate(diags)))
}

// How many diagnostics of one severity and summary the text output shows
// before it says how many more there are, as Terraform consolidates its
// warnings: 6 000 people without a name are one fix, not 6 000 screens —
// and hcl's text writer scans the file from its start for every snippet,
// so printing them all took minutes on a large site.
const (
	shownWarnings = 3
	shownErrors   = 10
)

// consolidate keeps the first few diagnostics of each severity and
// summary; the last one kept says how many more there are. -json lists
// every one.
func consolidate(diags hcl.Diagnostics) hcl.Diagnostics {
	type kind struct {
		sev     hcl.DiagnosticSeverity
		summary string
	}
	total := map[kind]int{}
	for _, d := range diags {
		total[kind{d.Severity, d.Summary}]++
	}
	seen := map[kind]int{}
	out := make(hcl.Diagnostics, 0, len(diags))
	for _, d := range diags {
		k := kind{d.Severity, d.Summary}
		limit := shownWarnings
		if d.Severity == hcl.DiagError {
			limit = shownErrors
		}
		seen[k]++
		switch n := seen[k]; {
		case n < limit || total[k] <= limit:
			out = append(out, d)
		case n == limit:
			c := *d
			what := "warnings"
			if d.Severity == hcl.DiagError {
				what = "errors"
			}
			c.Detail = strings.TrimRight(c.Detail, "\n") + fmt.Sprintf("\n\n(and %d more %q %s elsewhere; -json lists every one)", total[k]-limit, d.Summary, what)
			out = append(out, &c)
		}
	}
	return out
}

// The JSON rendering follows `terraform validate -json` (format 1.0), so
// that tools which already read that can read this.

type jsonValidate struct {
	FormatVersion string           `json:"format_version"`
	Valid         bool             `json:"valid"`
	ErrorCount    int              `json:"error_count"`
	WarningCount  int              `json:"warning_count"`
	Diagnostics   []jsonDiagnostic `json:"diagnostics"`
}

type jsonDiagnostic struct {
	Severity string       `json:"severity"`
	Summary  string       `json:"summary"`
	Detail   string       `json:"detail"`
	Range    *jsonRange   `json:"range,omitempty"`
	Snippet  *jsonSnippet `json:"snippet,omitempty"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

type jsonSnippet struct {
	Context              *string     `json:"context"`
	Code                 string      `json:"code"`
	StartLine            int         `json:"start_line"`
	HighlightStartOffset int         `json:"highlight_start_offset"`
	HighlightEndOffset   int         `json:"highlight_end_offset"`
	Values               []jsonValue `json:"values"` // always empty: values are never printed
}

type jsonValue struct {
	Traversal string `json:"traversal"`
	Statement string `json:"statement"`
}

// writeDiagnosticsJSON writes the validate -json document for diags.
func writeDiagnosticsJSON(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) error {
	errs, warns := counts(diags)
	doc := jsonValidate{
		FormatVersion: "1.0",
		Valid:         errs == 0,
		ErrorCount:    errs,
		WarningCount:  warns,
		Diagnostics:   make([]jsonDiagnostic, 0, len(diags)),
	}
	for _, d := range diags {
		doc.Diagnostics = append(doc.Diagnostics, newJSONDiagnostic(d, files))
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func newJSONDiagnostic(d *hcl.Diagnostic, files map[string]*hcl.File) jsonDiagnostic {
	jd := jsonDiagnostic{Summary: d.Summary, Detail: d.Detail}
	switch d.Severity {
	case hcl.DiagError:
		jd.Severity = "error"
	case hcl.DiagWarning:
		jd.Severity = "warning"
	default:
		jd.Severity = "unknown"
	}
	if d.Subject == nil {
		return jd
	}

	highlight := *d.Subject
	if highlight.End == (hcl.Pos{}) {
		highlight.End = highlight.Start
	}
	snip := highlight
	if d.Context != nil {
		snip = hcl.RangeOver(snip, *d.Context)
	}
	// Empty ranges cannot be highlighted; widen them to one byte, as the
	// text writer does.
	if snip.Empty() {
		snip.End.Byte++
		snip.End.Column++
	}
	if highlight.Empty() {
		highlight.End.Byte++
		highlight.End.Column++
	}
	filename := filepath.ToSlash(highlight.Filename)
	jd.Range = &jsonRange{
		Filename: filename,
		Start:    jsonPos{Line: highlight.Start.Line, Column: highlight.Start.Column, Byte: highlight.Start.Byte},
		End:      jsonPos{Line: highlight.End.Line, Column: highlight.End.Column, Byte: highlight.End.Byte},
	}

	f := files[highlight.Filename]
	if f == nil || f.Bytes == nil {
		return jd
	}
	src := f.Bytes
	s := &jsonSnippet{Values: []jsonValue{}}
	if ctx := hcled.ContextString(f, d.Subject.Start.Byte); ctx != "" {
		s.Context = &ctx
	}
	// The snippet is the whole lines the range touches, cut straight out
	// of the source: scanning the file line by line would cost as much as
	// the file for every diagnostic, which a 10 000-user site notices.
	if snip.Start.Byte < 0 || snip.Start.Byte > len(src) {
		return jd
	}
	codeStart := bytes.LastIndexByte(src[:snip.Start.Byte], '\n') + 1
	// Through the end of the range's last line (by line number: an end
	// at column 1 still shows that line, as the text writer does).
	codeEnd := codeStart
	for line := snip.Start.Line; ; line++ {
		i := bytes.IndexByte(src[codeEnd:], '\n')
		if i < 0 {
			codeEnd = len(src)
			break
		}
		if line >= snip.End.Line {
			codeEnd += i
			break
		}
		codeEnd += i + 1
	}
	s.StartLine = snip.Start.Line
	var code strings.Builder
	code.Write(bytes.TrimRight(src[codeStart:codeEnd], "\r"))
	s.Code = strings.TrimSuffix(code.String(), "\n")
	start := highlight.Start.Byte - codeStart
	end := start + (highlight.End.Byte - highlight.Start.Byte)
	s.HighlightStartOffset = clamp(start, 0, len(s.Code))
	s.HighlightEndOffset = clamp(end, 0, len(s.Code))
	jd.Snippet = s
	return jd
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

// Every -json outcome that is not the command's own document (a site with
// errors, a usage error, a failure that is not about the site files) is
// the validate -json document above: one shape for diagnostics, whatever
// the command.

// problem is a diagnostic about the command line or the system rather
// than the site files: it has no range.
func problem(summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail}
}

// writeJSONProblem writes the diagnostics document of one problem.
func (c *cli) writeJSONProblem(summary, detail string) {
	_ = writeDiagnosticsJSON(c.stdout, nil, hcl.Diagnostics{problem(summary, detail)})
}

// reportDiagnostics prints diags: under -json as the diagnostics document
// on stdout, else as text with snippets on stderr.
func (c *cli) reportDiagnostics(files map[string]*hcl.File, diags hcl.Diagnostics) {
	if c.json {
		_ = writeDiagnosticsJSON(c.stdout, files, diags)
		return
	}
	if len(diags) > 0 {
		_ = writeDiagnosticsText(c.stderr, files, diags, c.styleFor(c.stderr))
	}
}

// fail reports an error that is not about the site files (a file that
// cannot be read or written, a missing key) and returns exitFail: on
// stderr as "switchboard CMD: ...", and under -json also as the
// diagnostics document on stdout, after the site's own diagnostics.
func (c *cli) fail(cmd string, err error, site ...*loadedSite) int {
	fmt.Fprintf(c.stderr, "switchboard %s: %v\n", cmd, err)
	if c.json {
		var files map[string]*hcl.File
		var diags hcl.Diagnostics
		for _, s := range site {
			if s != nil {
				files = s.files
				diags = append(diags, s.diags...)
			}
		}
		_ = writeDiagnosticsJSON(c.stdout, files, append(hcl.Diagnostics{problem("Command failed", err.Error())}, diags...))
	}
	return exitFail
}
