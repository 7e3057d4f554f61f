package compiler

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

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/provision"
	"switchboard/compiler/provision/provisiontest"
	"switchboard/lang"
)

// exampleSites are the bundled examples the goldens cover.
var exampleSites = []string{"family-home", "apartment-block", "small-office"}

// fixedKey is a site key from 32 fixed bytes (fill, fill+1, …), so that the
// passwords in goldens are stable.
func fixedKey(t testing.TB, fill byte) credentials.Key {
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

// compiled is a site taken through the whole pipeline.
type compiled struct {
	cfg     *lang.Config
	program *ir.Program
	bundle  *provision.Bundle
	// warnings are Render's diagnostics; load, check and lower must give
	// no error.
	warnings hcl.Diagnostics
	dump     []byte // ir.Dump
	json     []byte // dialplan.json
}

// compileSite loads, checks, lowers and renders the site in dir with key k,
// failing the test on any error.
func compileSite(t testing.TB, dir string, k credentials.Key) *compiled {
	t.Helper()
	cfg, diags := lang.Load(dir, lang.Options{})
	if diags.HasErrors() {
		t.Fatalf("load %s:\n%s", dir, describe(diags))
	}
	return compileConfig(t, cfg, k)
}

func compileConfig(t testing.TB, cfg *lang.Config, k credentials.Key) *compiled {
	t.Helper()
	checked, diags := Check(cfg)
	if diags.HasErrors() {
		t.Fatalf("check:\n%s", describe(diags))
	}
	p, diags := Lower(checked, LowerOptions{})
	if diags.HasErrors() {
		t.Fatalf("lower:\n%s", describe(diags))
	}
	b, warns := provision.Render(p, credentials.NewSource(k, p))
	if warns.HasErrors() {
		t.Fatalf("render:\n%s", describe(warns))
	}
	js, err := ir.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return &compiled{cfg: cfg, program: p, bundle: b, warnings: warns, dump: ir.Dump(p), json: js}
}

// sections is the golden form of a build: the IR dump, dialplan.json, the
// file list with modes, Render's warnings, then each provisioning file.
func (c *compiled) sections() []txtar.File {
	var list bytes.Buffer
	for _, f := range c.bundle.Files {
		dev := f.Device
		if dev == "" {
			dev = "(common)"
		}
		fmt.Fprintf(&list, "%04o %s %s %s\n", f.Mode, f.Path, f.Vendor, dev)
	}
	var warns bytes.Buffer
	for _, d := range c.warnings {
		at := "-"
		if d.Subject != nil {
			at = fmt.Sprintf("%s:%d", d.Subject.Filename, d.Subject.Start.Line)
		}
		fmt.Fprintf(&warns, "%s: %s: %s\n", at, d.Summary, d.Detail)
	}
	out := []txtar.File{
		{Name: "ir.dump", Data: c.dump},
		{Name: "dialplan.json", Data: c.json},
		{Name: "files", Data: list.Bytes()},
		{Name: "warnings", Data: warns.Bytes()},
	}
	for _, f := range c.bundle.Files {
		out = append(out, txtar.File{Name: "provision/" + f.Path, Data: f.Data})
	}
	return out
}

// TestExampleGoldens compiles each example with a fixed key and compares
// the IR dump, dialplan.json, the file list, Render's warnings and every
// provisioning file with testdata/golden/<example>.txtar (UPDATE_GOLDEN=1
// rewrites them).
func TestExampleGoldens(t *testing.T) {
	for _, name := range exampleSites {
		t.Run(name, func(t *testing.T) {
			c := compileSite(t, filepath.Join("..", "examples", name), fixedKey(t, 0))
			irtest.CheckGolden(t, filepath.Join("testdata", "golden", name+".txtar"), c.sections())
		})
	}
}

// TestExampleRebuildIdentical: a second build from scratch gives the same
// bytes, in memory and on disk.
func TestExampleRebuildIdentical(t *testing.T) {
	for _, name := range exampleSites {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "examples", name)
			first := compileSite(t, dir, fixedKey(t, 0))
			second := compileSite(t, dir, fixedKey(t, 0))
			if d := cmp.Diff(first.sections(), second.sections()); d != "" {
				t.Fatalf("second build differs (-first +second):\n%s", d)
			}
			out1, out2 := t.TempDir(), t.TempDir()
			if err := first.bundle.WriteDir(out1); err != nil {
				t.Fatal(err)
			}
			if err := second.bundle.WriteDir(out2); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(readTree(t, out1), readTree(t, out2)); d != "" {
				t.Errorf("written builds differ (-first +second):\n%s", d)
			}
		})
	}
}

// readTree reads every file under dir: relative path → mode and content.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = fmt.Sprintf("%04o %s", fi.Mode().Perm(), data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExampleKeyChange: a new site key changes every password and nothing
// else. The IR is the same; public files are the same; a secret file
// differs from its old self exactly in the lines that held the old
// password, which hold the new one instead.
func TestExampleKeyChange(t *testing.T) {
	for _, name := range exampleSites {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "examples", name)
			k1, k2 := fixedKey(t, 0), fixedKey(t, 100)
			c1, c2 := compileSite(t, dir, k1), compileSite(t, dir, k2)
			if !bytes.Equal(c1.dump, c2.dump) || !bytes.Equal(c1.json, c2.json) {
				t.Error("the IR changed with the key")
			}
			creds1, creds2 := credentials.List(c1.program, k1), credentials.List(c2.program, k2)
			for i := range creds1 {
				if creds1[i].Password == creds2[i].Password {
					t.Errorf("password of %s did not change with the key", creds1[i].Name)
				}
			}
			if len(c1.bundle.Files) != len(c2.bundle.Files) {
				t.Fatalf("%d files, then %d", len(c1.bundle.Files), len(c2.bundle.Files))
			}
			src1, src2 := credentials.NewSource(k1, c1.program), credentials.NewSource(k2, c2.program)
			for i, f1 := range c1.bundle.Files {
				f2 := c2.bundle.Files[i]
				if f1.Path != f2.Path || f1.Mode != f2.Mode || f1.Device != f2.Device {
					t.Errorf("file %d: %s %04o, then %s %04o", i, f1.Path, f1.Mode, f2.Path, f2.Mode)
					continue
				}
				if !f1.Secret() {
					if !bytes.Equal(f1.Data, f2.Data) {
						t.Errorf("%s: public file changed with the key", f1.Path)
					}
					continue
				}
				a := c1.program.Account(c1.program.Device(f1.Device).Account)
				pw1, pw2 := src1.SIPPassword(*a), src2.SIPPassword(*a)
				l1, l2 := strings.Split(string(f1.Data), "\n"), strings.Split(string(f2.Data), "\n")
				if len(l1) != len(l2) {
					t.Errorf("%s: %d lines, then %d", f1.Path, len(l1), len(l2))
					continue
				}
				changed := 0
				for j := range l1 {
					if l1[j] == l2[j] {
						continue
					}
					changed++
					if !strings.Contains(l1[j], pw1) || strings.ReplaceAll(l1[j], pw1, pw2) != l2[j] {
						t.Errorf("%s line %d changed with the key beyond the password:\n-%s\n+%s", f1.Path, j+1, l1[j], l2[j])
					}
				}
				if changed == 0 {
					t.Errorf("%s: secret file did not change with the key", f1.Path)
				}
			}
		})
	}
}

// TestExampleBundles checks each example's bundle against its IR
// (provisiontest.Check: every file parses back with its vendor's parser,
// every device has its files, every SIP account in the bundle is in the IR
// with the same username, relay codes in door-station files equal the
// IR's), and that every device has files at all.
func TestExampleBundles(t *testing.T) {
	for _, name := range exampleSites {
		t.Run(name, func(t *testing.T) {
			k := fixedKey(t, 0)
			c := compileSite(t, filepath.Join("..", "examples", name), k)
			for _, err := range provisiontest.Check(c.program, c.bundle, credentials.NewSource(k, c.program), c.warnings) {
				t.Error(err)
			}
			for _, d := range c.cfg.Devices {
				if len(c.bundle.DeviceFiles(d.Name)) == 0 {
					t.Errorf("device %q has no files", d.Name)
				}
			}
			// Relay codes: the door-station files hold the codes written in
			// the site, not only the IR's.
			for _, d := range c.cfg.Devices {
				dev := c.program.Device(d.Name)
				if dev.Kind != ir.DoorStation {
					continue
				}
				for i, r := range d.Relays {
					if dev.Relays[i].DTMF != r.DTMF.Value {
						t.Errorf("device %q relay %q: IR code %q, site %q", d.Name, r.Name, dev.Relays[i].DTMF, r.DTMF.Value)
					}
				}
			}
		})
	}
}

// TestExampleNoSecrets: no derived credential (SIP, app and portal
// passwords) and no sensitive input (the trunk password) appears in
// dialplan.json or the IR dump.
func TestExampleNoSecrets(t *testing.T) {
	for _, name := range exampleSites {
		t.Run(name, func(t *testing.T) {
			k := fixedKey(t, 0)
			c := compileSite(t, filepath.Join("..", "examples", name), k)
			secrets := map[string]string{}
			for _, cr := range credentials.List(c.program, k) {
				secrets[cr.Password] = "password of " + cr.Name
			}
			for _, tr := range c.cfg.Trunks {
				for what, s := range map[string]lang.Secret{"username": tr.Username, "password": tr.Password} {
					if s.Sensitive && s.Value != "" {
						secrets[s.Value] = fmt.Sprintf("%s of trunk %q", what, tr.Name)
					}
				}
			}
			if len(secrets) == 0 {
				t.Fatal("no secrets to look for")
			}
			for _, s := range slices.Sorted(mapKeys(secrets)) {
				for out, data := range map[string][]byte{"dialplan.json": c.json, "ir.dump": c.dump} {
					if bytes.Contains(data, []byte(s)) {
						t.Errorf("%s holds the %s", out, secrets[s])
					}
				}
			}
		})
	}
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
