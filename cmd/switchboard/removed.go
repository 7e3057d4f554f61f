package main

import "switchboard/compiler/plan"

// warnRemovedAnswerers prints, for plan and apply, the warnings only the
// plan can give because they need the applied state beside the site
// (plan.RemovedAnswerers: door codes only removed people answered). They
// go where the site's other warnings go, with snippets.
func (c *cli) warnRemovedAnswerers(pr *prepared) {
	diags := plan.RemovedAnswerers(pr.site.program, pr.state)
	if len(diags) == 0 {
		return
	}
	_ = writeDiagnosticsText(c.stderr, pr.site.files, diags, c.styleFor(c.stderr))
}
