package main

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler"
	"switchboard/compiler/credentials"
	"switchboard/compiler/provision"
)

// compiledSite is a site taken through the whole compile pipeline (load,
// check, lower to the IR, provisioning) with its site key when asked; the
// bundle is rendered when asked.
type compiledSite struct {
	*loadedSite
	key credentials.Key
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
	// state is the applied state file whose identities and removed
	// people the IR carries (see identities); "" for none, as `test` has.
	state string
}

// compileSite runs the pipeline on dir and prints diagnostics: on stderr,
// or under -json, when the site cannot be compiled, as the diagnostics
// document on stdout (a compiled site's warnings stay on stderr: stdout is
// then the command's own document). It returns nil and an exit status
// when the site cannot be compiled.
func (c *cli) compileSite(cmd string, dir string, o compileOptions) (*compiledSite, int) {
	cs, err := c.compile(dir, o)
	site := cs.loadedSite
	if err != nil {
		if !c.json {
			c.printDiagnostics(site)
		}
		return nil, c.fail(cmd, err, site)
	}
	if site.diags.HasErrors() {
		c.reportDiagnostics(site.files, site.diags)
		if !c.json {
			errs, warns := counts(site.diags)
			fmt.Fprintln(c.stderr, c.styleFor(c.stderr).paint(ansiBold+ansiRed, siteProblems(site.cfg, errs, warns)))
		}
		return nil, exitFail
	}
	c.printDiagnostics(site)
	if o.recordLock {
		notes, err := recordAllocations(dir, site.checked, o.site.lockfile)
		if err != nil {
			return nil, c.fail(cmd, err)
		}
		for _, n := range notes {
			fmt.Fprintln(c.stderr, n)
		}
	}
	return cs, exitOK
}

// compile runs the pipeline on dir without printing: the site's
// diagnostics are in the result, which is never nil; err is a failure
// that is not about the site files (the site key cannot be read).
func (c *cli) compile(dir string, o compileOptions) (*compiledSite, error) {
	co := compiler.CompileOptions{Lower: o.lower}
	if o.state != "" {
		if err := identities(&co.Lower, o.state); err != nil {
			return &compiledSite{loadedSite: &loadedSite{}}, err
		}
	}
	var key credentials.Key
	var keyErr error
	if o.needKey {
		// Read first so that the bundle is rendered once, by Compile; a
		// missing key matters only for a site without errors.
		key, keyErr = credentials.LoadKey(dir, c.environ)
		if keyErr == nil && o.render {
			co.Key = &key
		}
	}
	site := c.loadSite(dir, o.site, co)
	if !o.render {
		// test, graph and credentials make no provisioning files: what
		// those files cannot carry is validate's and build's to say.
		site.diags = withoutDeviceWarnings(site.diags)
	}
	cs := &compiledSite{loadedSite: site}
	if site.diags.HasErrors() || !o.needKey {
		return cs, nil
	}
	if keyErr != nil {
		return cs, keyErr
	}
	cs.key = key
	return cs, nil
}

// withoutDeviceWarnings drops provisioning's warnings from diags.
func withoutDeviceWarnings(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if _, ok := d.Extra.(*provision.WarningDevices); !ok {
			out = append(out, d)
		}
	}
	return out
}

func (c *cli) printDiagnostics(site *loadedSite) {
	if len(site.diags) == 0 {
		return
	}
	if c.log != nil {
		c.logDiagnostics(site)
		return
	}
	_ = writeDiagnosticsText(c.stderr, site.files, site.diags, c.styleFor(c.stderr))
}
