package main

import (
	"fmt"

	"switchboard/compiler"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/provision"
)

// compiledSite is a site taken through the whole compile pipeline: load,
// check, lower to the IR, and (when asked) render the provisioning bundle.
type compiledSite struct {
	*loadedSite
	program *ir.Program
	key     credentials.Key
	bundle  *provision.Bundle
}

// compileOptions say how far to go.
type compileOptions struct {
	site  siteOptions
	lower compiler.LowerOptions
	// needKey loads the site key (credentials, bundles); render also
	// renders the bundle.
	needKey, render bool
	// recordLock writes switchboard.lock.hcl when allocations changed.
	recordLock bool
}

// compileSite runs the pipeline on dir and prints diagnostics on stderr.
// It returns nil and an exit status when the site cannot be compiled.
func (c *cli) compileSite(cmd string, dir string, o compileOptions) (*compiledSite, int) {
	site := c.loadSite(dir, o.site)
	cs := &compiledSite{loadedSite: site}
	if !site.diags.HasErrors() && site.checked != nil {
		p, more := compiler.Lower(site.checked, o.lower)
		site.diags = site.redact(append(site.diags, more...))
		cs.program = p
	}
	if !site.diags.HasErrors() && o.needKey {
		k, err := credentials.LoadKey(dir, c.environ)
		if err != nil {
			c.printDiagnostics(site)
			fmt.Fprintf(c.stderr, "switchboard %s: %v\n", cmd, err)
			return nil, exitFail
		}
		cs.key = k
		if o.render {
			b, more := provision.Render(cs.program, credentials.NewSource(k, cs.program))
			site.diags = site.redact(append(site.diags, more...))
			cs.bundle = b
		}
	}
	c.printDiagnostics(site)
	if site.diags.HasErrors() {
		errs, warns := counts(site.diags)
		fmt.Fprintln(c.stderr, c.styleFor(c.stderr).paint(ansiBold+ansiRed, siteProblems(site.cfg, errs, warns)))
		return nil, exitFail
	}
	if o.recordLock {
		notes, err := recordAllocations(dir, site.checked, o.site.lockfile)
		if err != nil {
			fmt.Fprintf(c.stderr, "switchboard %s: %v\n", cmd, err)
			return nil, exitFail
		}
		for _, n := range notes {
			fmt.Fprintln(c.stderr, n)
		}
	}
	return cs, exitOK
}

func (c *cli) printDiagnostics(site *loadedSite) {
	if len(site.diags) == 0 {
		return
	}
	_ = writeDiagnosticsText(c.stderr, site.files, site.diags, c.styleFor(c.stderr))
}
