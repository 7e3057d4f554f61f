package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler"
	"switchboard/compiler/ir"
	"switchboard/compiler/provision"
	"switchboard/lang"
)

var validateCommand = &command{
	name:     "validate",
	synopsis: "Check a site directory and report every problem",
	usage: `Usage: switchboard validate [-json] [-lockfile=readonly] [-var name=value]... [-var-file FILE]... [DIR]

Loads every *.pbx.hcl file in DIR (default: the current directory), checks
the site against switchboard's rules, lays out its dial plan and checks what
each device's model can be provisioned with, and prints each problem with
the lines it concerns: everything build, plan and serve would report about
the site files (with their default flags), so a site validate accepts
builds. Numbers handed out by extension = "auto" are recorded in
switchboard.lock.hcl beside the site files; commit that file with them.

Variables come from their defaults, then SWITCHBOARD_VAR_<name> environment
variables, then -var-file files in order, then -var flags; the last wins.
Values of variables marked sensitive are never printed.

Exit status: 0 when the site is valid (warnings allowed), 1 when it has
errors, 2 on a usage error.`,
	run:   runValidate,
	flags: func() *flagSet { return validateFlags(&validateOptions{}) },
}

type validateOptions struct {
	json bool
	site siteOptions
}

// siteOptions are the flags of every command that loads a site.
type siteOptions struct {
	vars     varsFlag
	varFiles listFlag
	// lockfile is "readonly" to refuse to change switchboard.lock.hcl, for
	// CI: a change that allocates a number must commit the lock with it.
	lockfile string
}

func (o *siteOptions) register(fs *flag.FlagSet) {
	o.vars = varsFlag{}
	fs.Var(o.vars, "var", "set a variable: `name=value`; repeatable")
	fs.Var(&o.varFiles, "var-file", "read variable values from `FILE` (name = value lines); repeatable")
	fs.StringVar(&o.lockfile, "lockfile", "", "`readonly`: fail instead of updating "+lang.LockFileName+" (for CI)")
}

func validateFlags(o *validateOptions) *flagSet {
	f := newFlagSet("validate")
	f.fs.BoolVar(&o.json, "json", false, "print the result as JSON, in the shape of terraform validate -json")
	o.site.register(f.fs)
	return f
}

func runValidate(c *cli, args []string) int {
	var o validateOptions
	positional, status, ok := c.parse(validateFlags(&o), args, 1)
	if !ok {
		return status
	}
	dir := dirArg(positional)
	// Lowered as build lowers by default, so that validate reports all
	// that build would (build's -server, -port, -transport and
	// -provision-url only change what devices are told).
	site := c.loadSite(dir, o.site, compiler.CompileOptions{})

	var notes []string
	if !site.diags.HasErrors() && site.checked != nil {
		var err error
		notes, err = recordAllocations(dir, site.checked, o.site.lockfile)
		if err != nil {
			return c.fail("validate", err, site)
		}
	}

	if o.json {
		if err := writeDiagnosticsJSON(c.stdout, site.files, site.diags); err != nil {
			fmt.Fprintf(c.stderr, "switchboard validate: %v\n", err)
			return exitFail
		}
		// stdout is the JSON document alone; notes go to stderr.
		for _, n := range notes {
			fmt.Fprintln(c.stderr, n)
		}
		if site.diags.HasErrors() {
			return exitFail
		}
		return exitOK
	}

	errStyle := c.styleFor(c.stderr)
	if err := writeDiagnosticsText(c.stderr, site.files, site.diags, errStyle); err != nil {
		return exitFail
	}
	errs, warns := counts(site.diags)
	if errs > 0 {
		fmt.Fprintf(c.stderr, "%s\n", errStyle.paint(ansiBold+ansiRed, siteProblems(site.cfg, errs, warns)))
		return exitFail
	}
	for _, n := range notes {
		fmt.Fprintln(c.stdout, n)
	}
	outStyle := c.styleFor(c.stdout)
	what := "The site"
	if s := site.cfg.Site(); s != nil {
		what = fmt.Sprintf("The site %q", s.Name)
	}
	msg := fmt.Sprintf("%s is valid (%s)", what, inventory(site.cfg))
	if warns > 0 {
		msg += fmt.Sprintf(", with %s shown above", plural(warns, "warning"))
	}
	fmt.Fprintf(c.stdout, "%s %s.\n", outStyle.paint(ansiBold+ansiGreen, "Success!"), msg)
	return exitOK
}

// loadedSite is a site directory after lang.Load and compiler.Compile:
// every diagnostic the site files can get.
type loadedSite struct {
	cfg     *lang.Config         // nil when the directory could not be read
	checked *compiler.Checked    // nil when loading failed
	program *ir.Program          // nil when loading or checking failed
	bundle  *provision.Bundle    // when compiled with a key
	diags   hcl.Diagnostics      // sorted
	files   map[string]*hcl.File // sources for snippets, sensitive values masked
}

// loadSite loads the site in dir and takes it through every check
// (compiler.Compile). The checks run only on a site that loaded without
// errors: rules applied to a half-read site would mostly repeat the
// loader's complaints.
func (c *cli) loadSite(dir string, o siteOptions, co compiler.CompileOptions) *loadedSite {
	cfg, diags := lang.Load(dir, lang.Options{
		Vars:     o.vars,
		VarFiles: o.varFiles,
		Environ:  c.environ,
	})
	s := &loadedSite{cfg: cfg}
	if cfg != nil && !diags.HasErrors() {
		compiled, more := compiler.Compile(cfg, co)
		diags = append(diags, more...)
		s.checked, s.program, s.bundle = compiled.Checked, compiled.Program, compiled.Bundle
	}
	s.files, s.diags = displayPaths(dir, snippetFiles(cfg), s.redact(diags))
	return s
}

// redact sorts diags and hides what they would say about sensitive values
// (see lang.Sensitive.Redact). Every stage's diagnostics pass through it.
func (s *loadedSite) redact(diags hcl.Diagnostics) hcl.Diagnostics {
	diags = sortDiagnostics(diags)
	if s.cfg == nil {
		return diags
	}
	return s.cfg.Sensitive.Redact(diags)
}

// recordAllocations writes the lock file when the check changed it, and
// returns one line per extension this run handed out.
func recordAllocations(dir string, checked *compiler.Checked, lockfile string) ([]string, error) {
	if checked.Lock == nil || !checked.LockChanged {
		return nil, nil
	}
	if lockfile == "readonly" {
		var pending []string
		for _, a := range checked.Allocations {
			pending = append(pending, fmt.Sprintf("%s to user %q", a.Extension, a.User))
		}
		what := "its entries no longer match the site"
		if len(pending) > 0 {
			what = "extension = \"auto\" would allocate " + strings.Join(pending, ", ")
		}
		return nil, fmt.Errorf("%s is out of date (%s); run without -lockfile=readonly and commit the file", lang.LockFileName, what)
	}
	if _, err := lang.WriteLock(dir, checked.Lock); err != nil {
		return nil, err
	}
	var notes []string
	for _, a := range checked.Allocations {
		replacing := ""
		if a.Previous != "" {
			replacing = fmt.Sprintf(", replacing %s which is now taken", a.Previous)
		}
		notes = append(notes, fmt.Sprintf("Allocated extension %s to user %q%s (recorded in %s)",
			a.Extension, a.User, replacing, lang.LockFileName))
	}
	return notes, nil
}

// inventory is "4 users, 2 residences, 3 devices" (and trunks, if any).
func inventory(cfg *lang.Config) string {
	parts := []string{
		plural(len(cfg.Users), "user"),
		plural(len(cfg.Residences), "residence"),
		plural(len(cfg.Devices), "device"),
	}
	if n := len(cfg.Trunks); n > 0 {
		parts = append(parts, plural(n, "trunk"))
	}
	return strings.Join(parts, ", ")
}

// siteProblems is `The site "x" is not valid: 2 errors, 1 warning.`
func siteProblems(cfg *lang.Config, errs, warns int) string {
	what := "The site"
	if cfg != nil && cfg.Site() != nil {
		what = fmt.Sprintf("The site %q", cfg.Site().Name)
	}
	s := fmt.Sprintf("%s is not valid: %s", what, plural(errs, "error"))
	if warns > 0 {
		s += ", " + plural(warns, "warning")
	}
	return s + "."
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") || strings.HasSuffix(noun, "ch") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
