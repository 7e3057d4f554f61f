package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
	usage: `Usage: switchboard fmt [-check] [-diff] [-recursive] [DIR | FILE | -]...

Rewrites every *.pbx.hcl and *.test.hcl file in DIR (default: the current
directory) in the canonical layout and prints the name of each file it
changed. A FILE named explicitly is formatted whatever its name; "-" reads
standard input and writes the result to standard output.

Exit status: 0 on success; 1 when a file has a syntax error, when -check
finds files to reformat, or when a file cannot be read or written; 2 on a
usage error.`,
	run:   runFmt,
	flags: func() *flagSet { return fmtFlags(&fmtOptions{}) },
}

type fmtOptions struct {
	check, diff, recursive bool
}

func fmtFlags(o *fmtOptions) *flagSet {
	f := newFlagSet("fmt")
	f.fs.BoolVar(&o.check, "check", false, "change nothing; list the files that are not formatted and exit 1 if there are any")
	f.fs.BoolVar(&o.diff, "diff", false, "print the changes as unified diffs")
	f.fs.BoolVar(&o.recursive, "recursive", false, "also format files in subdirectories (hidden ones are skipped)")
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

	r := &fmtRun{c: c, opts: o, files: map[string]*hcl.File{}}
	for _, t := range targets {
		if t == "-" {
			r.stdin()
			continue
		}
		r.target(t)
	}

	diags := sortDiagnostics(r.diags)
	if len(diags) > 0 {
		writeDiagnosticsText(c.stderr, r.files, diags, c.styleFor(c.stderr))
	}
	switch {
	case r.failed || diags.HasErrors():
		return exitFail
	case o.check && r.unformatted > 0:
		fmt.Fprintf(c.stderr, "%s not formatted; run \"switchboard fmt\" to fix.\n", plural(r.unformatted, "file"))
		return exitFail
	}
	return exitOK
}

// fmtRun is one fmt invocation's progress.
type fmtRun struct {
	c           *cli
	opts        fmtOptions
	files       map[string]*hcl.File // parsed files, for syntax-error snippets
	diags       hcl.Diagnostics
	unformatted int
	failed      bool // a file could not be read or written
}

func (r *fmtRun) fail(err error) {
	fmt.Fprintf(r.c.stderr, "switchboard fmt: %v\n", err)
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
	if out == nil || bytes.Equal(src, out) {
		return
	}
	r.unformatted++
	fmt.Fprintln(r.c.stdout, path)
	if r.opts.diff {
		r.c.stdout.Write(diff.Diff(name+".orig", src, name, out))
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
