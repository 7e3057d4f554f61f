package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// displayPaths returns files and diags with the file names lang and the
// scenario parser use (relative to the site directory dir) rewritten as
// paths a person can open from where they ran the command: relative to the
// current directory, or absolute when the site lies outside it. Names in
// the text of a diagnostic ("already declared at site.pbx.hcl:12") are
// rewritten too, hcl's own included, so that every place in a message
// reads the same way. The IR keeps the site-relative names: it must not
// depend on where a build was run.
func displayPaths(dir string, files map[string]*hcl.File, diags hcl.Diagnostics) (map[string]*hcl.File, hcl.Diagnostics) {
	names := map[string]string{}
	add := func(name string) {
		if name == "" {
			return
		}
		if _, ok := names[name]; !ok {
			names[name] = displayName(dir, name)
		}
	}
	for name := range files {
		add(name)
	}
	for _, d := range diags {
		if d.Subject != nil {
			add(d.Subject.Filename)
		}
		if d.Context != nil {
			add(d.Context.Filename)
		}
	}
	changed := false
	for from, to := range names {
		if from != to {
			changed = true
		} else {
			delete(names, from)
		}
	}
	if !changed {
		return files, diags
	}

	outFiles := make(map[string]*hcl.File, len(files))
	for name, f := range files {
		outFiles[rename(names, name)] = f
	}
	// Longest first, so that "a/site.pbx.hcl" is not rewritten as
	// "site.pbx.hcl" would be.
	order := make([]string, 0, len(names))
	for from := range names {
		order = append(order, from)
	}
	sort.Slice(order, func(i, j int) bool { return len(order[i]) > len(order[j]) })
	outDiags := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		if d.Subject != nil {
			r := *d.Subject
			r.Filename = rename(names, r.Filename)
			c.Subject = &r
		}
		if d.Context != nil {
			r := *d.Context
			r.Filename = rename(names, r.Filename)
			c.Context = &r
		}
		c.Summary = renameInText(c.Summary, order, names)
		c.Detail = renameInText(c.Detail, order, names)
		outDiags[i] = &c
	}
	return outFiles, outDiags
}

func rename(names map[string]string, name string) string {
	if to, ok := names[name]; ok {
		return to
	}
	return name
}

// displayName is dir/name relative to the current directory, with forward
// slashes, or absolute when that path would climb out of it.
func displayName(dir, name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	path := filepath.Join(dir, filepath.FromSlash(name))
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	wd, err := os.Getwd()
	if err != nil {
		return abs
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return abs
	}
	return filepath.ToSlash(rel)
}

// renameInText rewrites each file name of order that stands alone in s:
// not part of a longer name or path.
func renameInText(s string, order []string, names map[string]string) string {
	for _, from := range order {
		if !strings.Contains(s, from) {
			continue
		}
		var b strings.Builder
		rest := s
		for {
			i := strings.Index(rest, from)
			if i < 0 {
				b.WriteString(rest)
				break
			}
			end := i + len(from)
			alone := (i == 0 || !pathByte(rest[i-1])) && !continues(rest[end:])
			b.WriteString(rest[:i])
			if alone {
				b.WriteString(names[from])
			} else {
				b.WriteString(from)
			}
			rest = rest[end:]
		}
		s = b.String()
	}
	return s
}

// pathByte reports whether c can be part of a path before a file name.
func pathByte(c byte) bool {
	return c == '/' || c == '\\' || c == '.' || c == '-' || c == '_' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// continues reports whether rest, the text after a file name, carries the
// name on ("site.pbx.hcl.bak", "site.pbx.hcl-old"); a full stop that ends
// a sentence does not.
func continues(rest string) bool {
	if rest == "" {
		return false
	}
	if rest[0] == '.' {
		return len(rest) > 1 && nameByte(rest[1])
	}
	return nameByte(rest[0])
}

// nameByte reports whether c can continue a file name ("site.pbx.hcl.bak");
// a full stop ending a sentence is followed by a space or nothing.
func nameByte(c byte) bool {
	return c == '-' || c == '_' || c == '/' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
