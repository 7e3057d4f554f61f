package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/rogpeppe/go-internal/diff"

	"switchboard/atomicfile"
	"switchboard/lang"
)

// fmtSuffixes are the files fmt looks for in a directory: site files and
// call-flow test files.
var fmtSuffixes = []string{".pbx.hcl", ".test.hcl"}

var fmtCommand = &command{
	name:     "fmt",
	synopsis: "Rewrite site files in the canonical format",
	usage: `Usage: switchboard fmt [-check] [-diff] [-recursive] [-json] [DIR | FILE | -]...

Rewrites every *.pbx.hcl and *.test.hcl file in DIR (default: the current
directory) in the canonical layout and prints the name of each file it
changed. A FILE named explicitly is formatted whatever its name; "-" reads
standard input and writes the result to standard output.

-json prints, instead of the names, one JSON document: every file looked
at with whether it changed (or, with -check, would change) and, with
-diff, its diff; syntax errors as diagnostics, in the shape of validate
-json. Standard input cannot be formatted with -json.

Exit status: 0 on success; 1 when a file has a syntax error, when -check
finds files to reformat, or when a file cannot be read or written; 2 on a
usage error.`,
	run:   runFmt,
	flags: func() *flagSet { return fmtFlags(&fmtOptions{}) },
}

type fmtOptions struct {
	check, diff, recursive, json bool
}

func fmtFlags(o *fmtOptions) *flagSet {
	f := newFlagSet("fmt")
	f.fs.BoolVar(&o.check, "check", false, "change nothing; list the files that are not formatted and exit 1 if there are any")
	f.fs.BoolVar(&o.diff, "diff", false, "print the changes as unified diffs")
	f.fs.BoolVar(&o.recursive, "recursive", false, "also format files in subdirectories (hidden ones are skipped)")
	f.fs.BoolVar(&o.json, "json", false, "print the files changed and unchanged as JSON")
	return f
}

func runFmt(c *cli, args []string) int {
	var o fmtOptions
	targets, status, ok := c.parse(fmtFlags(&o), args, 1<<20)
	if !ok {
		return status
	}
	if len(targets) == 0 {
		targets = []string{"."}
	}
	if o.json && slices.Contains(targets, "-") {
		return c.usageError(lookup("fmt"), "-json cannot format standard input: its output is the formatted text")
	}

	r := &fmtRun{c: c, opts: o, files: map[string]*hcl.File{}}
	for _, t := range targets {
		if t == "-" {
			r.stdin()
			continue
		}
		r.target(t)
	}

	diags := sortDiagnostics(r.diags)
	if o.json {
		r.writeJSON(diags)
	} else if len(diags) > 0 {
		writeDiagnosticsText(c.stderr, r.files, diags, c.styleFor(c.stderr))
	}
	switch {
	case r.failed || diags.HasErrors():
		return exitFail
	case o.check && r.unformatted > 0:
		fmt.Fprintf(c.stderr, "%s not formatted; run \"%s\" to fix.\n", plural(r.unformatted, "file"), fmtFixCommand(o, targets))
		return exitFail
	}
	return exitOK
}

// fmtFixCommand is the fmt command that rewrites what -check found: the
// same files and directories (standard input cannot be rewritten).
func fmtFixCommand(o fmtOptions, targets []string) string {
	words := []string{"switchboard", "fmt"}
	if o.recursive {
		words = append(words, "-recursive")
	}
	for _, t := range targets {
		if t != "-" && t != "." {
			words = append(words, t)
		}
	}
	return shellJoin(words)
}

// fmtRun is one fmt invocation's progress.
type fmtRun struct {
	c           *cli
	opts        fmtOptions
	files       map[string]*hcl.File // parsed files, for syntax-error snippets
	diags       hcl.Diagnostics
	unformatted int
	failed      bool // a file could not be read or written
	seen        []fmtFileJSON
}

// fmtJSON is fmt -json's document: the diagnostics document's counts and
// diagnostics, and the files.
type fmtJSON struct {
	FormatVersion string           `json:"format_version"`
	Files         []fmtFileJSON    `json:"files"`
	Changed       int              `json:"changed"`
	Unchanged     int              `json:"unchanged"`
	ErrorCount    int              `json:"error_count"`
	Diagnostics   []jsonDiagnostic `json:"diagnostics"`
}

type fmtFileJSON struct {
	Name    string `json:"name"`
	Changed bool   `json:"changed"` // with -check: would change
	Diff    string `json:"diff,omitempty"`
}

func (r *fmtRun) writeJSON(diags hcl.Diagnostics) {
	doc := fmtJSON{FormatVersion: "1.0", Files: r.seen, Diagnostics: []jsonDiagnostic{}}
	if doc.Files == nil {
		doc.Files = []fmtFileJSON{}
	}
	for _, f := range r.seen {
		if f.Changed {
			doc.Changed++
		} else {
			doc.Unchanged++
		}
	}
	doc.ErrorCount, _ = counts(diags)
	for _, d := range diags {
		doc.Diagnostics = append(doc.Diagnostics, newJSONDiagnostic(d, r.files))
	}
	data, _ := json.MarshalIndent(doc, "", "  ")
	r.c.stdout.Write(append(data, '\n'))
}

func (r *fmtRun) fail(err error) {
	fmt.Fprintf(r.c.stderr, "switchboard fmt: %v\n", err)
	if r.opts.json {
		r.diags = append(r.diags, problem("Cannot format", err.Error()))
	}
	r.failed = true
}

// target formats a file, or the matching files of a directory.
func (r *fmtRun) target(path string) {
	info, err := os.Stat(path)
	if err != nil {
		r.fail(err)
		return
	}
	if !info.IsDir() {
		r.file(path)
		return
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == path {
				return nil
			}
			if !r.opts.recursive || strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && hasFmtSuffix(d.Name()) {
			r.file(p)
		}
		return nil
	})
	if err != nil {
		r.fail(err)
	}
}

func hasFmtSuffix(name string) bool {
	for _, s := range fmtSuffixes {
		if strings.HasSuffix(name, s) && len(name) > len(s) {
			return true
		}
	}
	return false
}

// format returns the canonical form of src, or nil after recording syntax
// errors.
func (r *fmtRun) format(name string, src []byte) []byte {
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if f != nil {
		r.files[name] = f
	}
	if diags.HasErrors() {
		r.diags = append(r.diags, lang.CapSyntaxErrors(diags)...)
		return nil
	}
	return hclwrite.Format(src)
}

func (r *fmtRun) file(path string) {
	src, err := os.ReadFile(path)
	if err != nil {
		r.fail(err)
		return
	}
	name := filepath.ToSlash(path)
	out := r.format(name, src)
	if out == nil {
		return
	}
	if bytes.Equal(src, out) {
		r.seen = append(r.seen, fmtFileJSON{Name: name})
		return
	}
	r.unformatted++
	switch {
	case r.opts.json:
		f := fmtFileJSON{Name: name, Changed: true}
		if r.opts.diff {
			f.Diff = string(diff.Diff(name+".orig", src, name, out))
		}
		r.seen = append(r.seen, f)
	default:
		fmt.Fprintln(r.c.stdout, path)
		if r.opts.diff {
			r.c.stdout.Write(diff.Diff(name+".orig", src, name, out))
		}
	}
	if r.opts.check {
		return
	}
	if err := replaceFile(path, out); err != nil {
		r.fail(err)
	}
}

// stdin formats standard input to standard output.
func (r *fmtRun) stdin() {
	src, err := io.ReadAll(r.c.stdin)
	if err != nil {
		r.fail(err)
		return
	}
	out := r.format("<stdin>", src)
	if out == nil {
		return
	}
	changed := !bytes.Equal(src, out)
	if changed {
		r.unformatted++
	}
	switch {
	case r.opts.diff:
		if changed {
			r.c.stdout.Write(diff.Diff("<stdin>.orig", src, "<stdin>", out))
		}
	case !r.opts.check:
		r.c.stdout.Write(out)
	}
}

// replaceFile replaces path with data, keeping the file's permissions.
func replaceFile(path string, data []byte) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, data, info.Mode().Perm())
}
