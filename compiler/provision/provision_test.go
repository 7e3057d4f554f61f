package provision_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/rogpeppe/go-internal/txtar"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/provision"
	"switchboard/compiler/provision/provisiontest"
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

// TestProperties renders random sites (plain and with awkward names) and
// checks the bundle against the IR (provisiontest.Check): every file parses
// back; every device has its file; the account in each device file is the
// device's IR account with its username and password; relay codes equal the
// IR's; passwords appear only in 0600 files; no common file holds a secret.
func TestProperties(t *testing.T) {
	for seed := range uint64(8) {
		o := irtest.Options{Residences: 10 + int(seed)*13, UsersPerResidence: 1 + int(seed%4), Seed: seed, Awkward: seed%2 == 1}
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			p := irtest.Generate(o)
			k := key(t, byte(seed))
			b, diags := render(t, p, k)
			for _, err := range provisiontest.Check(p, b, credentials.NewSource(k, p), diags) {
				t.Error(err)
			}
		})
	}
}

// TestCheckFindsTampering: provisiontest.Check, which the property and
// example tests rely on, notices a wrong password, a wrong relay code, a
// device without its file, an account not in the IR, a password in a
// public file and a file that does not parse.
func TestCheckFindsTampering(t *testing.T) {
	p := irtest.HarbourView()
	k := key(t, 0)
	src := credentials.NewSource(k, p)
	for _, tc := range []struct {
		name   string
		tamper func(b *provision.Bundle)
		want   string
	}{
		{"password", func(b *provision.Bundle) {
			f := b.File("0c1105abcdef.cfg")
			f.Data = bytes.Replace(f.Data, []byte("Pwd = "), []byte("Pwd = x"), 1)
		}, "password other than"},
		{"relay code", func(b *provision.Bundle) {
			f := b.File("cfg000b82445566.xml")
			f.Data = bytes.Replace(f.Data, []byte("<P10457>5<"), []byte("<P10457>9<"), 1)
		}, `relay 1 opens on "9"`},
		{"missing file", func(b *provision.Bundle) {
			b.Files = slices.DeleteFunc(b.Files, func(f provision.File) bool { return f.Path == "0c1105123456.cfg" })
		}, `device "front-gate" has no 0600 configuration file`},
		{"foreign account", func(b *provision.Bundle) {
			f := b.File("805ec0445566.cfg")
			f.Data = bytes.Replace(f.Data, []byte("user_name = desk-102"), []byte("user_name = ghost"), 1)
		}, `SIP account "ghost" is not in the IR`},
		{"public password", func(b *provision.Bundle) {
			b.File("805ec0112233.cfg").Mode = 0o644
		}, "holds a password but has mode 0644"},
		{"unparsable", func(b *provision.Bundle) {
			b.File("y000000000000.boot").Data = []byte("no header\n")
		}, "does not parse back"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, diags := render(t, p, k)
			if errs := provisiontest.Check(p, b, src, diags); len(errs) != 0 {
				t.Fatalf("untouched bundle: %v", errs)
			}
			tc.tamper(b)
			errs := provisiontest.Check(p, b, src, diags)
			if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), tc.want) }) {
				t.Errorf("errors %v, want one containing %q", errs, tc.want)
			}
		})
	}
}

// warned reports whether a warning about feature names device.
func warned(diags hcl.Diagnostics, device, feature string) bool {
	return provisiontest.Warned(diags, device, feature)
}

// TestEveryCatalogueModel renders, for every model of the catalogue, the
// harbour-view site with one device of that kind switched to the model:
// the model renders without an error or a model or kind warning, its
// device gets its files, and the bundle reads back and agrees with the IR.
func TestEveryCatalogueModel(t *testing.T) {
	stand := map[catalogue.Kind]string{catalogue.DoorStation: "lobby", catalogue.Monitor: "monitor-1a", catalogue.Phone: "desk-102"}
	for _, m := range catalogue.Models() {
		t.Run(m.ID, func(t *testing.T) {
			if !slices.Contains(provision.Models(), m.ID) {
				t.Errorf("no renderer has vendor facts for %s", m.ID)
			}
			p := irtest.HarbourView()
			d := p.Device(stand[m.Kind])
			d.Model, d.Vendor = m.ID, m.Vendor.ID
			k := key(t, 0)
			b, diags := render(t, p, k)
			for _, w := range diags {
				if x := w.Extra.(*provision.WarningDevices); x.Model == m.ID && (x.Feature == "model" || x.Feature == "device kind") {
					t.Errorf("%s", w.Detail)
				}
			}
			if len(b.DeviceFiles(d.Name)) == 0 {
				t.Errorf("no files for the %s", m.ID)
			}
			for _, err := range provisiontest.Check(p, b, credentials.NewSource(k, p), diags) {
				t.Error(err)
			}
		})
	}
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
	d.Relays = append(d.Relays, ir.Relay{Name: "far", Index: 5, DTMF: "5", Hold: d.Relays[0].Hold, Trigger: d.Relays[0].Trigger})
	_, diags := render(t, p, key(t, 0))
	if !warned(diags, "front-gate", "relay far") {
		t.Errorf("no relay warning:\n%s", formatDiags(diags))
	}
	for _, w := range diags {
		if w.Subject == nil {
			t.Errorf("warning without subject: %s", w.Detail)
		}
	}
}

// TestWarningsPerDevice: a warning is given once for each device it
// concerns, at that device's own place (or its relay's), never gathered at
// the first device of a model; Check gives the same as Render, without a
// key.
func TestWarningsPerDevice(t *testing.T) {
	p := irtest.HarbourView()
	mon := *p.Device("monitor-1a")
	gate := p.Device("side-gate")
	monAcct, gateAcct := *p.Account(mon.Account), *p.Account(gate.Account)
	gate.Relays[0].DTMF = "5#"
	for i := range 5 {
		m := mon
		m.Name = fmt.Sprintf("monitor-x%d", i)
		m.MAC = fmt.Sprintf("0c11050000%02x", i)
		m.Account = "device." + m.Name
		m.Origin.Line, m.Origin.Byte = 200+i, 5000+i
		p.Devices = append(p.Devices, m)
		a := monAcct
		a.Name, a.Username, a.AuthName, a.Device = m.Account, m.Account, m.Account, m.Name
		p.Accounts = append(p.Accounts, a)
	}
	g := *gate
	g.Name, g.MAC, g.Account = "side-gate-2", "000b82445567", "device.side-gate-2"
	g.Origin.Line = 300
	g.Relays = slices.Clone(gate.Relays)
	g.Relays[0].DTMF = "7#"
	g.Relays[0].Origin.Line = 305
	g.Buttons = nil
	g.Keypad = true
	p.Devices = append(p.Devices, g)
	a := gateAcct
	a.Name, a.Username, a.AuthName, a.Device = g.Account, g.Account, g.Account, g.Name
	p.Accounts = append(p.Accounts, a)
	p.Sort()

	_, diags := render(t, p, key(t, 0))
	count := map[string]int{}
	for _, d := range diags {
		w := d.Extra.(*provision.WarningDevices)
		if len(w.Devices) != 1 {
			t.Fatalf("warning about %d devices: %s", len(w.Devices), d.Detail)
		}
		dev := p.Device(w.Devices[0])
		count[dev.Name+" "+w.Feature]++
		want := dev.Origin.Line
		if strings.HasPrefix(w.Feature, "relay ") {
			want = dev.Relays[0].Origin.Line
		}
		if d.Subject == nil || d.Subject.Start.Line != want {
			t.Errorf("%s %s: subject %v, want line %d", dev.Name, w.Feature, d.Subject, want)
		}
		if !strings.HasPrefix(d.Detail, fmt.Sprintf("Device %q (%s), %s: ", dev.Name, dev.Model, w.Feature)) {
			t.Errorf("detail %q does not name its device and feature", d.Detail)
		}
	}
	want := map[string]int{}
	// Monitors carry their unlock code and contacts now: no warning.
	for _, m := range []string{"monitor-1a", "monitor-x0", "monitor-x1", "monitor-x2", "monitor-x3", "monitor-x4"} {
		want[m+" contacts"], want[m+" unlock code"] = 0, 0
	}
	for _, gd := range []string{"side-gate", "side-gate-2"} {
		want[gd+" time zone"], want[gd+" relay gate"] = 1, 1
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%d warnings about %s, want %d:\n%s", count[k], k, n, formatDiags(diags))
		}
	}

	if diff := cmp.Diff(string(formatDiags(diags)), string(formatDiags(provision.Check(p)))); diff != "" {
		t.Errorf("Check differs from Render (-render +check):\n%s", diff)
	}
}

func TestWriteDir(t *testing.T) {
	p := irtest.HarbourView()
	b, _ := render(t, p, key(t, 0))
	dir := t.TempDir()
	for range 2 { // the second write finds everything in place
		if err := b.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
	}
	// A changed file and a wrong mode are rewritten.
	os.WriteFile(filepath.Join(dir, b.Files[0].Path), []byte("stale"), 0o600)
	os.Chmod(filepath.Join(dir, b.Files[3].Path), 0o666)
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
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
// in memory: the provisioning share of `switchboard build`.
func BenchmarkRender(b *testing.B) {
	p := benchSite()
	k := key(b, 0)
	b.ReportMetric(float64(len(p.Devices)), "devices")
	for b.Loop() {
		if _, diags := provision.Render(p, credentials.NewSource(k, p)); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// BenchmarkWriteDir writes that bundle into a fresh directory (every file
// new) and into the directory of the previous build (nothing changed).
func BenchmarkWriteDir(b *testing.B) {
	p := benchSite()
	bundle, _ := provision.Render(p, credentials.NewSource(key(b, 0), p))
	b.Run("fresh", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			if err := bundle.WriteDir(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		dir := b.TempDir()
		if err := bundle.WriteDir(dir); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := bundle.WriteDir(dir); err != nil {
				b.Fatal(err)
			}
		}
	})
}
