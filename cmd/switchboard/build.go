package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"switchboard/atomicfile"
	"switchboard/compiler"
	"switchboard/compiler/ir"
	"switchboard/compiler/provision"
	"switchboard/runtime/provisioning"
)

var buildCommand = &command{
	name:     "build",
	synopsis: "Compile a site into its dial plan and device provisioning files",
	usage: `Usage: switchboard build [-json] [-o OUT] [-server HOST] [-port N] [-transport udp|tcp|tls]
                         [-provision-url URL] [-lockfile=readonly] [-var name=value]...
                         [-var-file FILE]... [DIR]

Checks the site in DIR (default: the current directory) and writes:

  OUT/dialplan.json           the compiled site the server runs (no secrets)
  OUT/provision/...           each device's files, named as its vendor fetches them
  OUT/provision/manifest.json which file belongs to which device, with checksums

OUT defaults to DIR/.switchboard/build. Files holding a password get mode
0600. The same site and key always give the same bytes, so devices that
compare checksums skip files that did not change. Passwords are derived from
the site key (SWITCHBOARD_SITE_KEY, or the key file "switchboard init" made).

-json prints what was written (paths, counts, warnings) as JSON, and a site
with errors as the diagnostics document of validate -json.

Exit status: 0 built (warnings allowed), 1 errors, 2 usage error.`,
	run:   runBuild,
	flags: func() *flagSet { return buildFlags(&buildOptions{}) },
}

type buildOptions struct {
	json  bool
	out   string
	site  siteOptions
	lower lowerFlags
}

// lowerFlags are the facts about the serving side the IR needs.
type lowerFlags struct {
	server, transport, provisionURL string
	port                            int
}

func (l *lowerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.server, "server", "", "SIP server `HOST` devices register with, replacing the site's nodes (default: its nodes, else its domain)")
	fs.IntVar(&l.port, "port", 5060, "SIP server `PORT` devices use")
	fs.StringVar(&l.transport, "transport", "udp", "SIP `TRANSPORT` devices use: udp, tcp or tls")
	fs.StringVar(&l.provisionURL, "provision-url", "", "base `URL` devices fetch their files from")
}

func (l *lowerFlags) options() (compiler.LowerOptions, error) {
	switch l.transport {
	case "udp", "tcp", "tls":
	default:
		return compiler.LowerOptions{}, fmt.Errorf("-transport must be udp, tcp or tls, not %q", l.transport)
	}
	if l.port < 1 || l.port > 65535 {
		return compiler.LowerOptions{}, fmt.Errorf("-port must be between 1 and 65535")
	}
	url := l.provisionURL
	if url != "" && !strings.HasSuffix(url, "/") {
		url += "/"
	}
	return compiler.LowerOptions{Server: l.server, Port: l.port, Transport: l.transport, ProvisionURL: url}, nil
}

func buildFlags(o *buildOptions) *flagSet {
	f := newFlagSet("build")
	f.fs.BoolVar(&o.json, "json", false, "print what was written as JSON")
	f.fs.StringVar(&o.out, "o", "", "write the build to `OUT` (default DIR/.switchboard/build)")
	o.lower.register(f.fs)
	o.site.register(f.fs)
	return f
}

// buildGCPercent is the collector setting of the build command.
const buildGCPercent = 300

func runBuild(c *cli, args []string) int {
	var o buildOptions
	positional, status, ok := c.parse(buildFlags(&o), args, 1)
	if !ok {
		return status
	}
	lower, err := o.lower.options()
	if err != nil {
		return c.usageError(lookup("build"), "%v", err)
	}
	// build is a short batch job that allocates about 100 KB per user and
	// keeps little of it: a lazier collector makes a 10 000-user site
	// build a quarter faster for a few hundred MB more at the peak.
	debug.SetGCPercent(buildGCPercent)
	dir := dirArg(positional)
	out := o.out
	if out == "" {
		out = filepath.Join(dir, ".switchboard", "build")
	}
	cs, status := c.compileSite("build", dir, compileOptions{site: o.site, lower: lower, needKey: true, render: true, recordLock: true, state: statePath(dir, "")})
	if cs == nil {
		return status
	}
	if err := writeBuild(out, cs.program, cs.bundle); err != nil {
		return c.fail("build", err)
	}
	if o.json {
		return c.writeBuildJSON(out, cs)
	}
	for _, line := range buildSummary(cs.program, cs.bundle) {
		fmt.Fprintln(c.stdout, line)
	}
	fmt.Fprintf(c.stdout, "Wrote %s and %s.\n", filepath.ToSlash(filepath.Join(out, "dialplan.json")), filepath.ToSlash(filepath.Join(out, "provision"))+"/")
	return exitOK
}

// buildJSON is build -json's document.
type buildJSON struct {
	FormatVersion string           `json:"format_version"`
	Site          string           `json:"site"`
	DialPlan      string           `json:"dialplan"`
	Provision     string           `json:"provision"`
	Files         int              `json:"files"`
	Devices       int              `json:"devices"`
	Accounts      int              `json:"accounts"`
	Diagnostics   []jsonDiagnostic `json:"diagnostics"` // warnings
}

func (c *cli) writeBuildJSON(out string, cs *compiledSite) int {
	doc := buildJSON{
		FormatVersion: "1.0",
		Site:          cs.program.Site.Name,
		DialPlan:      filepath.ToSlash(filepath.Join(out, "dialplan.json")),
		Provision:     filepath.ToSlash(filepath.Join(out, "provision")) + "/",
		Files:         len(cs.bundle.Files),
		Devices:       len(cs.program.Devices),
		Accounts:      len(cs.program.Accounts),
		Diagnostics:   []jsonDiagnostic{},
	}
	for _, d := range cs.diags {
		doc.Diagnostics = append(doc.Diagnostics, newJSONDiagnostic(d, cs.files))
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return c.fail("build", err)
	}
	c.stdout.Write(append(data, '\n'))
	return exitOK
}

// writeBuild writes the IR and the bundle, and removes files of earlier
// builds that this one no longer makes (a removed device's files, with its
// password, must not stay downloadable).
func writeBuild(out string, p *ir.Program, b *provision.Bundle) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// The dial plan is encoded while the device files are written: on a
	// large site each takes a few hundred milliseconds.
	pdir := filepath.Join(out, "provision")
	wrote := make(chan error, 1)
	go func() { wrote <- b.WriteDir(pdir) }()
	data, err := ir.Marshal(p)
	if err == nil {
		err = atomicfile.Write(filepath.Join(out, "dialplan.json"), data, 0o644)
	}
	if werr := <-wrote; err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	// The manifest goes last: the provisioning server serves only what it
	// lists, so a device polling mid-build never gets a half-written set.
	var m provisioning.Manifest
	keep := map[string]bool{provisioning.ManifestName: true}
	for _, f := range b.Files {
		m.Add(f.Path, f.Device, f.Vendor, f.Data, f.Mode&0o077 == 0)
		keep[f.Path] = true
	}
	if err := provisioning.WriteManifest(pdir, &m); err != nil {
		return err
	}
	return removeStale(pdir, keep)
}

func removeStale(root string, keep map[string]bool) error {
	var stale []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if !keep[filepath.ToSlash(rel)] {
			stale = append(stale, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range stale {
		errs = append(errs, os.Remove(p))
	}
	return errors.Join(errs...)
}

// buildSummary is one line per device class, then accounts and numbers.
// It never mentions a secret.
func buildSummary(p *ir.Program, b *provision.Bundle) []string {
	type class struct {
		kind ir.DeviceKind
		name string
	}
	classes := []class{{ir.DoorStation, "door stations"}, {ir.Monitor, "indoor monitors"}, {ir.Phone, "desk phones"}}
	files := map[string]int{}
	for _, f := range b.Files {
		files[f.Device]++
	}
	var lines []string
	for _, cl := range classes {
		models := map[string]int{}
		n, nfiles := 0, 0
		for _, d := range p.Devices {
			if d.Kind == cl.kind {
				n++
				models[d.Model]++
				nfiles += files[d.Name]
			}
		}
		if n == 0 {
			continue
		}
		var parts []string
		for _, m := range slices.Sorted(mapKeys(models)) {
			parts = append(parts, fmt.Sprintf("%d× %s", models[m], m))
		}
		lines = append(lines, fmt.Sprintf("%-16s %3d  (%s; %s)", cl.name+":", n, strings.Join(parts, ", "), plural(nfiles, "file")))
	}
	apps := 0
	for _, a := range p.Accounts {
		if a.Kind == ir.AccountApp {
			apps++
		}
	}
	lines = append(lines, fmt.Sprintf("%-16s %3d  (%d app, %d device)", "SIP accounts:", len(p.Accounts), apps, len(p.Accounts)-apps))
	lines = append(lines, fmt.Sprintf("%-16s %3d  (%d dialled numbers, %d door entries, %d DDIs; %s)", "dial plan:", len(p.Numbers)+len(p.Entries)+len(p.DDIs), len(p.Numbers), len(p.Entries), len(p.DDIs), plural(files[""], "common file")))
	return lines
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
