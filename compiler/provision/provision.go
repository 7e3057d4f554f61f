// Package provision turns the device profiles of an IR program into the
// files real hardware fetches at boot: a Bundle of per-device and common
// files, named and formatted as each vendor's firmware expects, one
// sub-package per vendor (akuvox, yealink, grandstream; shared formats in
// devfile).
//
// Output is byte-stable: the same program and key give the same bytes, so
// devices that compare checksums (Yealink) skip re-applying unchanged files.
// Files that hold a password have mode 0600, common files never hold one.
// A feature a device's model cannot carry, or carries only through an
// unverified setting, is a warning naming the device and the feature, at
// that device's own place; it is never dropped silently. Check gives the
// same diagnostics without a site key, for validate.
//
// What a model can do comes from compiler/catalogue, the one table of
// capabilities the check pass uses too; the vendor packages keep only
// vendor facts (file names, key names, firmware codes).
package provision

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"

	"switchboard/atomicfile"
	"switchboard/compiler/catalogue"
	"switchboard/compiler/ir"
	"switchboard/compiler/provision/akuvox"
	"switchboard/compiler/provision/devfile"
	"switchboard/compiler/provision/grandstream"
	"switchboard/compiler/provision/yealink"
)

// File is one file of a bundle.
type File = devfile.File

// Passwords looks up SIP passwords; *credentials.Source implements it.
type Passwords = devfile.Passwords

// Bundle is every provisioning file of a site, sorted by Path.
type Bundle struct {
	Files []File
}

// File returns the file at path, or nil.
func (b *Bundle) File(path string) *File {
	i, ok := slices.BinarySearchFunc(b.Files, path, func(f File, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		return nil
	}
	return &b.Files[i]
}

// DeviceFiles returns the files made for the named device.
func (b *Bundle) DeviceFiles(device string) []File {
	var out []File
	for _, f := range b.Files {
		if f.Device == device {
			out = append(out, f)
		}
	}
	return out
}

type renderer func(p *ir.Program, devices []*ir.Device, pw devfile.Passwords) ([]devfile.File, []devfile.Warning)

var renderers = map[string]renderer{
	akuvox.Vendor:      akuvox.Render,
	grandstream.Vendor: grandstream.Render,
	yealink.Vendor:     yealink.Render,
}

// Vendors lists the vendors Render supports, sorted.
func Vendors() []string {
	var out []string
	for v := range renderers {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// Models lists the models some renderer has vendor facts for (key maps,
// firmware codes), sorted. Every catalogue model is among them.
func Models() []string {
	out := slices.Concat(akuvox.Models(), grandstream.Models(), yealink.Models())
	slices.Sort(out)
	return slices.Compact(out)
}

// Render writes the bundle of p. Warnings name the device and the feature
// its model lacks; errors (an unknown vendor, an invalid program, two files
// with one name) leave the bundle incomplete. Render puts p in canonical
// order (Sort).
func Render(p *ir.Program, pw Passwords) (*Bundle, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	p.Sort()
	if err := p.Validate(); err != nil {
		return nil, diags.Append(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid compiled program",
			Detail:   fmt.Sprintf("The compiled program is inconsistent, which is a bug in switchboard: %v", err),
		})
	}
	byVendor := map[string][]*ir.Device{}
	for i := range p.Devices {
		d := &p.Devices[i]
		if m, ok := catalogue.Lookup(d.Model); ok && m.Vendor.ID != d.Vendor {
			diags = diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid compiled program",
				Detail:   fmt.Sprintf("Device %q is a %q, made by %s, but the compiled program says its vendor is %q, which is a bug in switchboard.", d.Name, d.Model, m.Vendor.Name, d.Vendor),
				Subject:  subject(d.Origin),
			})
			continue
		}
		if _, ok := renderers[d.Vendor]; !ok {
			diags = diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported device vendor",
				Detail:   fmt.Sprintf("Device %q is a %q, and switchboard cannot provision %s devices; it provisions %s.", d.Name, d.Model, d.Vendor, strings.Join(Vendors(), ", ")),
				Subject:  subject(d.Origin),
			})
			continue
		}
		byVendor[d.Vendor] = append(byVendor[d.Vendor], d)
	}
	b := &Bundle{}
	var warns []devfile.Warning
	for _, v := range Vendors() {
		files, ws := renderers[v](p, byVendor[v], pw)
		b.Files = append(b.Files, files...)
		warns = append(warns, ws...)
	}
	diags = append(diags, warningDiagnostics(warns)...)
	slices.SortFunc(b.Files, func(x, y File) int { return strings.Compare(x.Path, y.Path) })
	for i := 1; i < len(b.Files); i++ {
		if b.Files[i].Path == b.Files[i-1].Path {
			diags = diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate provisioning file",
				Detail:   fmt.Sprintf("Devices %q and %q would both be served %s.", b.Files[i-1].Device, b.Files[i].Device, b.Files[i].Path),
				Subject:  subject(deviceOrigin(p, b.Files[i].Device)),
			})
		}
	}
	return b, diags
}

// WarningSummary is the summary of every warning Render gives.
const WarningSummary = "Device feature not provisioned"

// warningDiagnostics turns renderer warnings into diagnostics, one per
// device and feature, each at the place of the node it is about (the
// device itself, or its button, relay or line key): a warning about two
// monitors is two warnings, each at its own monitor, so that validate,
// build and an editor point at every object concerned.
func warningDiagnostics(warns []devfile.Warning) hcl.Diagnostics {
	diags := make(hcl.Diagnostics, 0, len(warns))
	for _, w := range warns {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  WarningSummary,
			Detail:   fmt.Sprintf("Device %q (%s), %s: %s", w.Device, w.Model, w.Feature, w.Detail),
			Subject:  subject(w.Origin),
			Extra:    &WarningDevices{Model: w.Model, Feature: w.Feature, Devices: []string{w.Device}},
		})
	}
	return diags
}

// WarningDevices is the Extra of a Render warning: the device it is about.
type WarningDevices struct {
	Model   string
	Feature string
	Devices []string // the one device; the Subject is its node's place
}

// Check returns the diagnostics Render gives for p, without a site key:
// what each device's model cannot carry, and whether the program can be
// rendered at all. None of them depends on a password, so the files are
// rendered with empty ones and dropped. The compiler's check stage calls
// it, so that validate says all that build will.
func Check(p *ir.Program) hcl.Diagnostics {
	_, diags := Render(p, noPasswords{})
	return diags
}

// noPasswords gives every account an empty password: Check needs the
// renderers' warnings, not their files.
type noPasswords struct{}

func (noPasswords) SIPPassword(ir.Account) string { return "" }

func deviceOrigin(p *ir.Program, name string) ir.Origin {
	if d := p.Device(name); d != nil {
		return d.Origin
	}
	return ir.Origin{}
}

// subject turns an IR origin back into an HCL range, or nil for none.
func subject(o ir.Origin) *hcl.Range {
	if !o.HasPos() {
		return nil
	}
	return &hcl.Range{
		Filename: o.File,
		Start:    hcl.Pos{Line: o.Line, Column: o.Column, Byte: o.Byte},
		End:      hcl.Pos{Line: o.EndLine, Column: o.EndColumn, Byte: o.EndByte},
	}
}

// WriteDir writes the bundle under dir (created if needed), each file with
// its mode. A file whose content and mode are already right is not touched,
// so a rebuild rewrites only what changed and unchanged files keep their
// modification times (and HTTP validators). A changed file is written to a
// temporary name and renamed over the old one, so a device polling during a
// build never fetches half a file. A file that does not exist yet is
// created in place, exclusively and with its final mode from the start (a
// secret is never readable by others, not even for a moment): nothing can
// be fetching it, because the provisioning server serves only files listed
// in manifest.json, which `build` writes after the bundle. Files are written
// by a few goroutines at once. Files of an earlier build that are not in the
// bundle are left alone; the caller owns cleanup.
//
// Every path is checked before anything is written. On failure WriteDir
// returns the error of the first file (in bundle order) that failed; other
// files may have been written.
func (b *Bundle) WriteDir(dir string) error {
	targets := make([]string, len(b.Files))
	parents := map[string]bool{}
	var order []string
	for i, f := range b.Files {
		if !fs.ValidPath(f.Path) || f.Path == "." || strings.Contains(f.Path, `\`) {
			return fmt.Errorf("provision: invalid file path %q", f.Path)
		}
		targets[i] = filepath.Join(dir, filepath.FromSlash(f.Path))
		if parent := filepath.Dir(targets[i]); !parents[parent] {
			parents[parent] = true
			order = append(order, parent)
		}
	}
	for _, parent := range order {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("provision: %w", err)
		}
	}

	errs := make([]error, len(b.Files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(writers, len(b.Files)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(b.Files) {
					return
				}
				errs[i] = writeFile(targets[i], b.Files[i])
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("provision: writing %s: %w", b.Files[i].Path, err)
		}
	}
	return nil
}

// writers is how many goroutines WriteDir writes files with. File creation
// waits on the file system more than on the CPU, so a few more than the
// usual core count still help; more than this does not.
const writers = 8

// writeFile puts f at target, replacing what is there (a symbolic link
// included, never followed), unless it is unchanged: then it is left alone,
// timestamps and all.
func writeFile(target string, f File) error {
	if atomicfile.Unchanged(target, f.Data, f.Mode) {
		return nil
	}
	return atomicfile.Write(target, f.Data, f.Mode)
}
