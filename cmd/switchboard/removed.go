package main

import (
	"path/filepath"

	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/plan"
)

// warnRemovedAnswerers prints, for plan and apply, the warnings only the
// plan can give because they need the applied state beside the site
// (plan.RemovedAnswerers: door codes only removed people answered). They
// go where the site's other warnings go, with snippets.
func (c *cli) warnRemovedAnswerers(pr *prepared) {
	diags := plan.RemovedAnswerers(pr.site.program, pr.state)
	if len(diags) == 0 {
		return
	}
	dir := "."
	if pr.site.cfg != nil {
		dir = pr.site.cfg.Dir
	}
	for _, d := range diags {
		if d.Subject != nil {
			d.Subject.Filename = siteFileKey(pr.site.files, dir, d.Subject.Filename)
		}
	}
	_ = writeDiagnosticsText(c.stderr, pr.site.files, diags, c.styleFor(c.stderr))
}

// siteFileKey is the name under which files holds the site file name (a
// path relative to the site directory dir, as the IR's origins give it):
// the name itself, or the file's name as the CLI shows it, which may be
// relative to the current directory instead.
func siteFileKey(files map[string]*hcl.File, dir, name string) string {
	if _, ok := files[name]; ok {
		return name
	}
	want, err := filepath.Abs(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		return name
	}
	for k := range files {
		if abs, err := filepath.Abs(filepath.FromSlash(k)); err == nil && abs == want {
			return k
		}
	}
	return name
}
