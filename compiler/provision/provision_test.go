package provision_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/rogpeppe/go-internal/txtar"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/provision"
	"switchboard/compiler/provision/akuvox"
	"switchboard/compiler/provision/devfile"
	"switchboard/compiler/provision/grandstream"
	"switchboard/compiler/provision/yealink"
)

func key(t testing.TB, fill byte) credentials.Key {
	t.Helper()
	b := make([]byte, 32)
	for i := range b {
		b[i] = fill + byte(i)
	}
	k, err := credentials.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func render(t testing.TB, p *ir.Program, k credentials.Key) (*provision.Bundle, hcl.Diagnostics) {
	t.Helper()
	b, diags := provision.Render(p, credentials.NewSource(k, p))
	if diags.HasErrors() {
		t.Fatalf("Render: %v", diags)
	}
	return b, diags
}

func formatDiags(diags hcl.Diagnostics) []byte {
	var buf bytes.Buffer
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		at := "-"
		if d.Subject != nil {
			at = fmt.Sprintf("%s:%d", d.Subject.Filename, d.Subject.Start.Line)
		}
		fmt.Fprintf(&buf, "%s: %s: %s\n  at %s\n", sev, d.Summary, d.Detail, at)
	}
	return buf.Bytes()
}

// TestGolden renders the harbour-view site and compares every file, the
// file list with modes, and the warnings with testdata/harbour-view.txtar.
// The key is fixed, so the passwords in the golden are stable.
func TestGolden(t *testing.T) {
	p := irtest.HarbourView()
	b, diags := render(t, p, key(t, 0))
	var list bytes.Buffer
	for _, f := range b.Files {
		dev := f.Device
		if dev == "" {
			dev = "(common)"
		}
		fmt.Fprintf(&list, "%04o %-28s %-12s %s\n", f.Mode, f.Path, f.Vendor, dev)
	}
	got := []txtar.File{{Name: "files", Data: list.Bytes()}, {Name: "warnings", Data: formatDiags(diags)}}
	for _, f := range b.Files {
		got = append(got, txtar.File{Name: "out/" + f.Path, Data: f.Data})
	}
	irtest.CheckGolden(t, "testdata/harbour-view.txtar", got)
}

func TestByteStable(t *testing.T) {
	p := irtest.Generate(irtest.Options{Residences: 60, UsersPerResidence: 3, Seed: 11, Awkward: true})
	b1, d1 := render(t, p, key(t, 7))
	b2, d2 := render(t, irtest.Generate(irtest.Options{Residences: 60, UsersPerResidence: 3, Seed: 11, Awkward: true}), key(t, 7))
	if d := cmp.Diff(b1, b2); d != "" {
		t.Fatalf("second render differs:\n%s", d)
	}
	if d := cmp.Diff(formatDiags(d1), formatDiags(d2)); d != "" {
		t.Fatalf("second render's warnings differ:\n%s", d)
	}
}

// TestKeyChangeChangesOnlyPasswords renders with two keys: every secret
// file changes, exactly in its password lines, and no public file changes.
func TestKeyChangeChangesOnlyPasswords(t *testing.T) {
	p := irtest.HarbourView()
	b1, _ := render(t, p, key(t, 0))
	b2, _ := render(t, p, key(t, 100))
	s1, s2 := credentials.NewSource(key(t, 0), p), credentials.NewSource(key(t, 100), p)
	for i := range b1.Files {
		f1, f2 := b1.Files[i], b2.Files[i]
		if !f1.Secret() {
			if !bytes.Equal(f1.Data, f2.Data) {
				t.Errorf("%s: public file changed with the key", f1.Path)
			}
			continue
		}
		a := p.Account(p.Device(f1.Device).Account)
		pw1, pw2 := s1.SIPPassword(*a), s2.SIPPassword(*a)
		if bytes.Equal(f1.Data, f2.Data) {
			t.Errorf("%s: secret file did not change with the key", f1.Path)
		}
		if !bytes.Equal(bytes.ReplaceAll(f1.Data, []byte(pw1), []byte("PW")), bytes.ReplaceAll(f2.Data, []byte(pw2), []byte("PW"))) {
			t.Errorf("%s: more than the password changed with the key", f1.Path)
		}
	}
}

type parsed struct {
	settings map[string]string
}

// parseFile reads a bundle file back with its vendor's parser.
func parseFile(f provision.File) (map[string]string, error) {
	switch {
	case f.Vendor == akuvox.Vendor:
		kvs, err := akuvox.Parse(f.Data)
		return devfile.KVMap(kvs), err
	case f.Vendor == yealink.Vendor && strings.HasSuffix(f.Path, ".xml"):
		_, err := devfile.ParseXML(f.Data)
		return nil, err
	case f.Vendor == yealink.Vendor:
		c, err := yealink.Parse(f.Data)
		if err != nil {
			return nil, err
		}
		m := devfile.KVMap(c.Settings)
		for i, inc := range c.Includes {
			m["include."+strconv.Itoa(i)] = inc
		}
		return m, nil
	case f.Vendor == grandstream.Vendor:
		s, err := grandstream.Parse(f.Data)
		if err != nil {
			return nil, err
		}
		m := map[string]string{"root": s.Root, "mac": s.MAC}
		for n, v := range s.P {
			m["P"+strconv.Itoa(n)] = v
		}
		return m, nil
	}
	return nil, fmt.Errorf("no parser for vendor %q", f.Vendor)
}

// accountOf extracts (username, auth name, password) from a device file.
func accountOf(f provision.File, m map[string]string) (user, auth, pw string) {
	switch f.Vendor {
	case akuvox.Vendor:
		return m["Config.Account1.GENERAL.UserName"], m["Config.Account1.GENERAL.AuthName"], m["Config.Account1.GENERAL.Pwd"]
	case yealink.Vendor:
		return m["account.1.user_name"], m["account.1.auth_name"], m["account.1.password"]
	case grandstream.Vendor:
		if m["root"] == "Device" {
			return m["P404"], m["P405"], m["P406"]
		}
		return m["P35"], m["P36"], m["P34"]
	}
	return "", "", ""
}

// relayCodes extracts relay index → DTMF code from a door-station file.
func relayCodes(f provision.File, m map[string]string) map[int]string {
	out := map[int]string{}
	switch f.Vendor {
	case akuvox.Vendor:
		for i := 1; i <= 4; i++ {
			if v, ok := m[fmt.Sprintf("Config.DoorSetting.DTMF.Code%d", i)]; ok {
				out[i] = v
			}
		}
	case grandstream.Vendor:
		if v, ok := m["P10457"]; ok {
			out[1] = v
		}
		if v, ok := m["P15460"]; ok {
			out[2] = v
		}
	}
	return out
}

// TestProperties renders random sites (plain and with awkward names) and
// checks the bundle against the IR: every file parses back; every device
// has its file; the account in each device file is the device's IR account
// with its username and password; relay codes equal the IR's (for relays the
// model has); passwords appear only in 0600 files; no common file holds a
// secret.
func TestProperties(t *testing.T) {
	for seed := range uint64(8) {
		o := irtest.Options{Residences: 10 + int(seed)*13, UsersPerResidence: 1 + int(seed%4), Seed: seed, Awkward: seed%2 == 1}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			p := irtest.Generate(o)
			k := key(t, byte(seed))
			b, diags := render(t, p, k)
			src := credentials.NewSource(k, p)
			var passwords []string
			for _, a := range p.Accounts {
				passwords = append(passwords, src.SIPPassword(a))
			}
			byDevice := map[string][]provision.File{}
			for _, f := range b.Files {
				m, err := parseFile(f)
				if err != nil {
					t.Errorf("%s: does not parse back: %v\n%s", f.Path, err, f.Data)
					continue
				}
				for _, pw := range passwords {
					if bytes.Contains(f.Data, []byte(pw)) && !f.Secret() {
						t.Errorf("%s: holds a password but has mode %04o", f.Path, f.Mode)
					}
				}
				if f.Device == "" {
					if f.Secret() {
						t.Errorf("%s: common file marked secret", f.Path)
					}
					continue
				}
				byDevice[f.Device] = append(byDevice[f.Device], f)
				d := p.Device(f.Device)
				if d == nil {
					t.Errorf("%s: for unknown device %q", f.Path, f.Device)
					continue
				}
				if !f.Secret() {
					continue
				}
				a := p.Account(d.Account)
				user, auth, pw := accountOf(f, m)
				if user != a.Username || auth != a.AuthName || pw != src.SIPPassword(*a) {
					t.Errorf("%s: account %q/%q/%q, IR has %q/%q and the derived password", f.Path, user, auth, pw, a.Username, a.AuthName)
				}
				if d.Kind == ir.DoorStation {
					codes := relayCodes(f, m)
					for _, r := range d.Relays {
						got, ok := codes[r.Index]
						if !ok && !warned(diags, d.Name, "relay "+r.Name) {
							t.Errorf("%s: relay %q missing and no warning", f.Path, r.Name)
						}
						if ok && got != r.DTMF {
							t.Errorf("%s: relay %d code %q, IR %q", f.Path, r.Index, got, r.DTMF)
						}
					}
				}
			}
			for _, d := range p.Devices {
				fs := byDevice[d.Name]
				if !slices.ContainsFunc(fs, func(f provision.File) bool { return f.Secret() && strings.Contains(f.Path, d.MAC) }) {
					t.Errorf("device %s has no configuration file", d.Name)
				}
			}
		})
	}
}

func warned(diags hcl.Diagnostics, device, feature string) bool {
	for _, d := range diags {
		if strings.HasPrefix(d.Detail, fmt.Sprintf("Device %q (", device)) && strings.Contains(d.Detail, "), "+feature+":") {
			return true
		}
	}
	return false
}

func TestUnknownVendor(t *testing.T) {
	p := irtest.HarbourView()
	p.Device("lobby").Vendor = "2n"
	p.Device("lobby").Model = "2n-ipstyle"
	b, diags := provision.Render(p, credentials.NewSource(key(t, 0), p))
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "Unsupported device vendor") {
		t.Fatalf("diags = %v", diags)
	}
	if diags[0].Subject == nil || diags[0].Subject.Start.Line != 88 {
		t.Errorf("subject = %v", diags[0].Subject)
	}
	if len(b.DeviceFiles("front-gate")) == 0 {
		t.Error("other devices were not rendered")
	}
}

func TestWarningsNameFeature(t *testing.T) {
	p := irtest.HarbourView()
	d := p.Device("front-gate")
	d.Keypad = true
	_, diags := render(t, p, key(t, 0))
	if !warned(diags, "front-gate", "keypad") {
		t.Errorf("no keypad warning:\n%s", formatDiags(diags))
	}
	for _, w := range diags {
		if w.Subject == nil {
			t.Errorf("warning without subject: %s", w.Detail)
		}
	}
}

func TestWriteDir(t *testing.T) {
	p := irtest.HarbourView()
	b, _ := render(t, p, key(t, 0))
	dir := t.TempDir()
	for range 2 { // the second write replaces the first
		if err := b.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(b.Files) {
		t.Errorf("%d entries written for %d files", len(entries), len(b.Files))
	}
	for _, f := range b.Files {
		fi, err := os.Stat(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != f.Mode {
			t.Errorf("%s: mode %v, want %v", f.Path, fi.Mode().Perm(), f.Mode)
		}
		data, _ := os.ReadFile(filepath.Join(dir, f.Path))
		if !bytes.Equal(data, f.Data) {
			t.Errorf("%s: content differs", f.Path)
		}
	}
	bad := &provision.Bundle{Files: []provision.File{{Path: "../escape", Data: []byte("x")}}}
	if err := bad.WriteDir(dir); err == nil {
		t.Error("WriteDir accepted a path outside the directory")
	}
}

// TestNoSecretInIR checks that dialplan.json and the IR dump hold no
// derived password.
func TestNoSecretInIR(t *testing.T) {
	p := irtest.HarbourView()
	js, err := ir.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	dump := ir.Dump(p)
	for _, c := range credentials.List(p, key(t, 0)) {
		if bytes.Contains(js, []byte(c.Password)) || bytes.Contains(dump, []byte(c.Password)) {
			t.Errorf("password of %s found in the IR", c.Name)
		}
	}
}

// benchSite is the 10 000-user, ~3 000-device site of the build target.
func benchSite() *ir.Program {
	return irtest.Generate(irtest.Options{Residences: 2000, UsersPerResidence: 5, PhoneEvery: 12, Seed: 1})
}

// BenchmarkRender builds the bundle of a 10 000-user, ~3 000-device site
// and writes it to disk: the provisioning share of `switchboard build`.
func BenchmarkRender(b *testing.B) {
	p := benchSite()
	k := key(b, 0)
	b.ReportMetric(float64(len(p.Devices)), "devices")
	dir := b.TempDir()
	b.ResetTimer()
	for b.Loop() {
		bundle, diags := provision.Render(p, credentials.NewSource(k, p))
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if err := bundle.WriteDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}

