package simulate_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"switchboard/compiler/ir"
	"switchboard/lang"
	"switchboard/runtime/carrier"
	"switchboard/simulate"
)

// trunkSecrets reads the values the site's variables give its trunks'
// credentials (the examples give them defaults).
func trunkSecrets(t *testing.T, dir string) carrier.TrunkValues {
	t.Helper()
	cfg, diags := lang.Load(dir, lang.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	out := carrier.TrunkValues{}
	for _, tr := range cfg.Trunks {
		for _, s := range []lang.Secret{tr.Username, tr.Password} {
			if s.Source != "" {
				out[ir.SecretRef(s.Source)] = s.Value
			}
		}
	}
	return out
}

func report(rep *simulate.Report) string {
	var b strings.Builder
	simulate.WriteText(&b, rep)
	return b.String()
}

// The generated suite calls out over the trunk: every user with a DDI
// presents it, one without presents the trunk's main number, every
// emergency number goes out, the door station is refused. With the
// trunk's credentials the server registers at the simulated carrier and
// answers its digest challenges; without them the trunk is simulated as
// IP-authenticated. Both pass, in memory and over UDP.
func TestCallsOut(t *testing.T) {
	p, sec := compileDir(t, "../examples/small-office")
	creds := trunkSecrets(t, "../examples/small-office")
	if len(creds) != 2 {
		t.Fatalf("small-office's trunk credentials: %d values, want a username and a password", len(creds))
	}
	cases := simulate.Generate(p)
	var names []string
	for _, c := range cases {
		if strings.Contains(c.Name, "out over trunk") || strings.Contains(c.Name, "cannot call out") {
			names = append(names, c.Name)
		}
	}
	want := []string{
		`james calls +15550100 → out over trunk "carrier" as +442079460101`,
		`fiona calls +15550100 → out over trunk "carrier" as +442079460102`,
		`hannah (no DDI) calls +15550100 → out over trunk "carrier" as +442079460100`,
		`fiona dials emergency number 112 → out over trunk "carrier"`,
		`fiona dials emergency number 999 → out over trunk "carrier"`,
		`entrance cannot call out (404)`,
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("no case %q among %q", w, names)
		}
	}
	run := regexpFor(names)
	for _, transport := range []string{simulate.TransportMemory, simulate.TransportUDP} {
		for _, auth := range []struct {
			name  string
			trunk simulate.Options
		}{{"digest", simulate.Options{TrunkSecrets: creds}}, {"ip", simulate.Options{}}} {
			t.Run(transport+"/"+auth.name, func(t *testing.T) {
				o := auth.trunk
				o.Transport, o.Run = transport, run
				rep, err := simulate.Run(context.Background(), p, sec, cases, o)
				if err != nil {
					t.Fatal(err)
				}
				pass, fail, _ := rep.Counts()
				if fail > 0 || pass != len(names) {
					t.Fatalf("%d passed, %d failed, want %d passed:\n%s", pass, fail, len(names), report(rep))
				}
			})
		}
	}
}

// A server that presents the wrong number fails the case, saying what it
// presented and what the site says.
func TestCallOutWrongCallerIDFails(t *testing.T) {
	p, sec := compileDir(t, "../examples/small-office")
	cases := simulate.Generate(p)
	// The server runs a program in which james's number is fiona's.
	wrong := *p
	wrong.DDIs = slices.Clone(p.DDIs)
	for i := range wrong.DDIs {
		if wrong.DDIs[i].Target == ir.UserRef("james") {
			wrong.DDIs[i].Target = ir.UserRef("nobody")
		}
	}
	rep, err := simulate.Run(context.Background(), &wrong, sec, cases, simulate.Options{Run: regexpFor([]string{`james calls +15550100 → out over trunk "carrier" as +442079460101`})})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Status != simulate.Fail {
		t.Fatalf("want one failed case:\n%s", report(rep))
	}
	r := rep.Results[0]
	if want := `presented "+442079460100" in From, want "+442079460101"`; !strings.Contains(r.Message, want) {
		t.Errorf("message %q does not say %s", r.Message, want)
	}
	if r.Origin.File == "" || len(r.Ladder) == 0 {
		t.Errorf("failure without origin or ladder: %+v", r)
	}
}

// regexpFor selects exactly the cases named.
func regexpFor(names []string) *regexp.Regexp {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return regexp.MustCompile("^(" + strings.Join(quoted, "|") + ")$")
}

// A site with two carriers: grace's number is on the second. Her calls
// out go over that trunk, presenting it; her number rings her when the
// second carrier delivers it; everyone else still uses the first. Each
// trunk is its own simulated carrier, at its own address, as the server
// tells carriers apart by address.
func TestTwoTrunks(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"site.pbx.hcl", "people.pbx.hcl", "phones.pbx.hcl"} {
		b, err := os.ReadFile(filepath.Join("../examples/small-office", f))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		switch f {
		case "people.pbx.hcl":
			text = strings.Replace(text, `numbers    = ["+442079460104"]`, `numbers    = ["+35315550199"]`, 1)
		case "site.pbx.hcl":
			text += `
trunk "backup" {
  host    = "sip.backup.example"
  numbers = ["+35315550199"]
}
`
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, sec := compileDir(t, dir)
	cases := simulate.Generate(p)
	want := []string{
		`grace calls +15550100 → out over trunk "backup" as +35315550199`,
		`james calls +15550100 → out over trunk "carrier" as +442079460101`,
	}
	var names []string
	for _, c := range cases {
		names = append(names, c.Name)
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("no generated case %q", w)
		}
	}
	ddi := false
	for _, n := range names {
		ddi = ddi || strings.Contains(n, "+35315550199") && strings.Contains(n, "grace") && !strings.Contains(n, "calls +15550100")
	}
	if !ddi {
		t.Errorf("no generated case for grace's number from the second carrier; have:\n%s", strings.Join(names, "\n"))
	}
	for _, transport := range []string{simulate.TransportMemory, simulate.TransportUDP} {
		rep, err := simulate.Run(context.Background(), p, sec, cases, simulate.Options{Transport: transport, TrunkSecrets: trunkSecrets(t, dir)})
		if err != nil {
			t.Fatal(err)
		}
		runnable := 0
		for _, c := range cases {
			if c.Skip == "" {
				runnable++
			}
		}
		if pass, fail, _ := rep.Counts(); fail > 0 || pass != runnable {
			t.Errorf("%s: %d passed of %d, %d failed:\n%s", transport, pass, runnable, fail, report(rep))
		}
	}
}
