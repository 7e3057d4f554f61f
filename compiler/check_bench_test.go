package compiler

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/lang"
)

// Size of the generated benchmark site.
const (
	benchUsers       = 10000
	benchResidences  = benchUsers / 2
	benchDoors       = 100 // of which benchKeypadDoors have keypads
	benchKeypadDoors = 20
	benchPhones      = 500
	benchMonitors    = 3000 - benchDoors - benchPhones
	benchDDIs        = 1000
	benchUserFiles   = 10
)

// writeBenchSite writes a large valid site: 10 000 users in 5 000
// residences, 3 000 devices (door stations, monitors, desk phones), a trunk
// with 1 000 DDIs (999 of them users') and short dialling, and 2 000 users with extension = "auto".
func writeBenchSite(tb testing.TB, dir string) {
	tb.Helper()
	write := func(name string, b *strings.Builder) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	var b strings.Builder
	b.WriteString(`variable "trunk_password" {
  type      = string
  default   = "bench"
  sensitive = true
}

site "bench" {
  name                 = "Benchmark Towers"
  country              = "IE"
  timezone             = "Europe/Dublin"
  domain               = "bench.example.net"
  auto_extensions_from = 30000
  installer {
    company = "Bench Installers"
    email   = "installer@bench.example"
  }
}

trunk "carrier" {
  host       = "sip.carrier.example"
  password   = var.trunk_password
  short_dial = 4
  numbers = [
`)
	for i := range benchDDIs {
		fmt.Fprintf(&b, "    \"+3531555%04d\",\n", i)
	}
	b.WriteString("  ]\n}\n")
	write("site.pbx.hcl", &b)

	b.Reset()
	for i := range benchResidences {
		fmt.Fprintf(&b, "residence \"r%d\" {\n  label = \"%d\"\n  ring_timeout = \"30s\"\n}\n\n", i, 1000+i)
	}
	write("residences.pbx.hcl", &b)

	perFile := benchUsers / benchUserFiles
	for f := range benchUserFiles {
		b.Reset()
		for i := f * perFile; i < (f+1)*perFile; i++ {
			role := "user"
			if i == 0 {
				role = "owner"
			}
			ext := fmt.Sprintf("%d", 20000+i)
			if i%5 == 4 {
				ext = `"auto"`
			}
			fmt.Fprintf(&b, "user \"u%d\" {\n  first_name = \"User\"\n  last_name = \"%d\"\n  email = \"u%d@example.com\"\n  mobile = \"+35387%07d\"\n  residence = residence.r%d\n  role = %q\n  extension = %s\n  app = %v\n",
				i, i, i, i, i/2, role, ext, i%2 == 0)
			// The pool's first number is nobody's: it is what the
			// residents without a number of their own present.
			if i < benchDDIs-1 {
				fmt.Fprintf(&b, "  numbers = [\"+3531555%04d\"]\n", i+1)
			}
			b.WriteString("}\n\n")
		}
		write(fmt.Sprintf("users-%02d.pbx.hcl", f), &b)
	}

	b.Reset()
	mac := 0
	nextMAC := func(oui string) string {
		mac++
		return fmt.Sprintf("%s:%02X:%02X:%02X", oui, mac>>16&0xff, mac>>8&0xff, mac&0xff)
	}
	for i := range benchDoors {
		fmt.Fprintf(&b, "device \"door%d\" {\n  model = \"akuvox-r20k\"\n  mac = %q\n", i, nextMAC("0C:11:05"))
		if i < benchKeypadDoors {
			b.WriteString("  keypad = true\n")
		} else {
			fmt.Fprintf(&b, "  button \"1\" { calls = residence.r%d }\n", (i*7)%benchResidences)
		}
		b.WriteString("  relay \"door\" {\n    dtmf = \"#\"\n    hold = \"5s\"\n  }\n}\n\n")
	}
	for i := range benchMonitors {
		fmt.Fprintf(&b, "device \"mon%d\" {\n  model = \"akuvox-c315\"\n  mac = %q\n  residence = residence.r%d\n}\n\n", i, nextMAC("0C:11:05"), i)
	}
	for i := range benchPhones {
		fmt.Fprintf(&b, "device \"phone%d\" {\n  model = \"yealink-t54w\"\n  mac = %q\n  user = user.u%d\n}\n\n", i, nextMAC("80:5E:C0"), i*3)
	}
	write("devices.pbx.hcl", &b)
}

func BenchmarkLoadAndCheck(b *testing.B) {
	dir := b.TempDir()
	writeBenchSite(b, dir)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cfg, diags := lang.Load(dir, lang.Options{})
		if diags.HasErrors() {
			b.Fatalf("load: %s", describe(diags))
		}
		checked, diags := Check(cfg)
		if diags.HasErrors() {
			b.Fatalf("check: %s", describe(diags))
		}
		if len(checked.Extensions) != benchUsers || len(checked.Devices) != 3000 {
			b.Fatalf("got %d extensions, %d devices", len(checked.Extensions), len(checked.Devices))
		}
	}
}

// TestBenchSiteIsClean keeps the benchmark honest: the generated site must
// pass the checks without a diagnostic, so the benchmark times the normal
// path, not error reporting.
func TestBenchSiteIsClean(t *testing.T) {
	if testing.Short() {
		t.Skip("large site")
	}
	dir := t.TempDir()
	writeBenchSite(t, dir)
	_, diags := loadAndCheck(t, dir)
	if len(diags) > 0 {
		if len(diags) > 20 {
			diags = diags[:20]
		}
		t.Fatalf("diagnostics on the benchmark site:\n%s", describe(diags))
	}
}

// BenchmarkCheck times the check pass alone on the same site.
func BenchmarkCheck(b *testing.B) {
	dir := b.TempDir()
	writeBenchSite(b, dir)
	cfg, diags := lang.Load(dir, lang.Options{})
	if diags.HasErrors() {
		b.Fatalf("load: %s", describe(diags))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, diags := Check(cfg); diags.HasErrors() {
			b.Fatal(describe(diags))
		}
	}
}

// BenchmarkCompile times what validate runs after loading on the same
// site: the checks, the lowering and the provisioning check (every
// device's files rendered with no passwords, then dropped).
func BenchmarkCompile(b *testing.B) {
	dir := b.TempDir()
	writeBenchSite(b, dir)
	cfg, diags := lang.Load(dir, lang.Options{})
	if diags.HasErrors() {
		b.Fatalf("load: %s", describe(diags))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if c, diags := Compile(cfg, CompileOptions{}); diags.HasErrors() || c.Program == nil {
			b.Fatal(describe(diags))
		}
	}
}
