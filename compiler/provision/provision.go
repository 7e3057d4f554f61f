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
// unverified setting, is a warning naming the device and the feature; it is
// never dropped silently.
package provision

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

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

// Models lists the catalogue models some renderer has a table for, sorted.
func Models() []string {
	out := slices.Concat(akuvox.Models(), grandstream.Models(), yealink.Models())
	slices.Sort(out)
	return out
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
	for _, v := range Vendors() {
		files, warns := renderers[v](p, byVendor[v], pw)
		b.Files = append(b.Files, files...)
		for _, w := range warns {
			diags = diags.Append(&hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Device feature not provisioned",
				Detail:   fmt.Sprintf("Device %q (%s), %s: %s", w.Device, w.Model, w.Feature, w.Detail),
				Subject:  subject(w.Origin),
			})
		}
	}
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
// its mode. Files are written to a temporary name and renamed, so a device
// polling during a build never fetches half a file. Files of an earlier
// build that are not in the bundle are left alone; the caller owns cleanup.
func (b *Bundle) WriteDir(dir string) error {
	made := map[string]bool{}
	for _, f := range b.Files {
		if !fs.ValidPath(f.Path) || strings.Contains(f.Path, `\`) {
			return fmt.Errorf("provision: invalid file path %q", f.Path)
		}
		target := filepath.Join(dir, filepath.FromSlash(f.Path))
		parent := filepath.Dir(target)
		if !made[parent] {
			if err := os.MkdirAll(parent, 0o755); err != nil {
				return fmt.Errorf("provision: %w", err)
			}
			made[parent] = true
		}
		if err := writeFile(target, f.Data, f.Mode); err != nil {
			return fmt.Errorf("provision: writing %s: %w", path.Clean(f.Path), err)
		}
	}
	return nil
}

func writeFile(target string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(name, mode)); err != nil {
		os.Remove(name)
		return err
	}
	if err := os.Rename(name, target); err != nil {
		os.Remove(name)
		return err
	}
	return nil
}
