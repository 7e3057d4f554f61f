package compiler

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"switchboard/lang"
)

// loadAndCheck runs the loader and the check pass on a site directory and
// returns both passes' diagnostics.
func loadAndCheck(t testing.TB, dir string) (*Checked, hcl.Diagnostics) {
	t.Helper()
	cfg, diags := lang.Load(dir, lang.Options{})
	checked, more := Check(cfg)
	return checked, append(diags, more...)
}

// loadAndCompile takes the site in dir through every stage validate runs
// (Compile), as far as its diagnostics allow.
func loadAndCompile(t testing.TB, dir string) hcl.Diagnostics {
	t.Helper()
	cfg, diags := lang.Load(dir, lang.Options{})
	if diags.HasErrors() {
		return diags
	}
	_, more := Compile(cfg, CompileOptions{})
	return append(diags, more...)
}

// checkSources checks a site given as file contents.
func checkSources(t testing.TB, files map[string]string, lock string) (*Checked, hcl.Diagnostics) {
	t.Helper()
	src := map[string][]byte{}
	for name, s := range files {
		src[name] = []byte(s)
	}
	cfg, diags := lang.LoadSources(".", src, lang.Options{})
	if lock != "" {
		l, d := lang.ParseLock([]byte(lock), lang.LockFileName)
		diags = append(diags, d...)
		cfg.Lock = l
	}
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	return Check(cfg)
}

// marker is one expected diagnostic: # ERROR: <summary> or
// # WARNING: <summary> on the line it concerns.
type marker struct {
	File     string
	Line     int
	Severity string
	Summary  string
}

func (m marker) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", m.File, m.Line, m.Severity, m.Summary)
}

var markerPattern = regexp.MustCompile(`#\s*(ERROR|WARNING):\s*([^#]*[^#\s])`)

// readMarkers collects the expected diagnostics of a fixture directory.
func readMarkers(t *testing.T, dir string) []marker {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []marker
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for line := 1; sc.Scan(); line++ {
			for _, m := range markerPattern.FindAllStringSubmatch(sc.Text(), -1) {
				out = append(out, marker{File: filepath.Base(path), Line: line, Severity: m[1], Summary: m[2]})
			}
		}
		f.Close()
	}
	return out
}

func diagnosticMarkers(diags hcl.Diagnostics) []marker {
	var out []marker
	for _, d := range diags {
		m := marker{Severity: "ERROR", Summary: d.Summary}
		if d.Severity == hcl.DiagWarning {
			m.Severity = "WARNING"
		}
		if d.Subject != nil {
			m.File = d.Subject.Filename
			m.Line = d.Subject.Start.Line
		}
		out = append(out, m)
	}
	return out
}

func sortMarkers(ms []marker) {
	slices.SortFunc(ms, func(a, b marker) int { return strings.Compare(a.String(), b.String()) })
}

func fixtureDirs(t *testing.T, root string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(root, "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatalf("no fixtures under %s", root)
	}
	return dirs
}

// TestInvalidFixtures takes each site under testdata/invalid through
// every stage validate runs and matches its diagnostics one to one against the # ERROR: and # WARNING: markers
// in its files.
func TestInvalidFixtures(t *testing.T) {
	for _, dir := range fixtureDirs(t, filepath.Join("..", "testdata", "invalid")) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want := readMarkers(t, dir)
			if len(want) == 0 {
				t.Fatal("fixture has no # ERROR: or # WARNING: markers")
			}
			diags := loadAndCompile(t, dir)
			got := diagnosticMarkers(diags)
			sortMarkers(want)
			sortMarkers(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\nall diagnostics:\n%s", diff, describe(diags))
			}
		})
	}
}

// TestDiagnosticsHaveSubject fails when any diagnostic about a fixture's
// config lacks a source range.
func TestDiagnosticsHaveSubject(t *testing.T) {
	roots := []string{filepath.Join("..", "testdata", "invalid"), filepath.Join("..", "testdata", "valid")}
	for _, root := range roots {
		for _, dir := range fixtureDirs(t, root) {
			diags := loadAndCompile(t, dir)
			for _, d := range diags {
				if d.Subject == nil || d.Subject.Filename == "" {
					t.Errorf("%s: diagnostic without a source range: %s: %s", dir, d.Summary, d.Detail)
				}
			}
		}
	}
}

func describe(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		where := "(no range)"
		if d.Subject != nil {
			where = fmt.Sprintf("%s:%d", d.Subject.Filename, d.Subject.Start.Line)
		}
		fmt.Fprintf(&b, "  %s: %s: %s; %s\n", where, sev, d.Summary, d.Detail)
	}
	return b.String()
}

// TestValidSite checks a site written like DESIGN.md's example: it must
// produce no diagnostic at all, and resolve what the lowering needs.
func TestValidSite(t *testing.T) {
	dir := filepath.Join("..", "testdata", "valid", "harbour-view")
	checked, diags := loadAndCheck(t, dir)
	if len(diags) > 0 {
		t.Fatalf("diagnostics on the valid site:\n%s", describe(diags))
	}
	if checked.Site == nil || checked.Site.Name != "harbour-view" || checked.Location == nil || checked.Location.String() != "Europe/Dublin" {
		t.Errorf("site not resolved: %+v", checked.Site)
	}
	if diff := cmp.Diff([]string{"112", "999"}, checked.Emergency); diff != "" {
		t.Errorf("Emergency (-want +got):\n%s", diff)
	}
	wantExt := map[string]string{"mary": "101", "aoife": "102", "concierge": "100", "sean": "200", "tom": "201"}
	if diff := cmp.Diff(wantExt, checked.Extensions); diff != "" {
		t.Errorf("Extensions (-want +got):\n%s", diff)
	}
	if len(checked.Allocations) != 0 || checked.LockChanged {
		t.Errorf("the lock already holds every allocation, got Allocations %v, LockChanged %v", checked.Allocations, checked.LockChanged)
	}

	type dev struct{ Name, Model, Kind, MAC string }
	var devs []dev
	for _, d := range checked.Devices {
		devs = append(devs, dev{d.Name, d.Model.ID, string(d.Kind), d.MAC.String()})
	}
	wantDevs := []dev{
		{"front-gate", "akuvox-r29c", "door station", "0c1105123456"},
		{"side-door", "grandstream-gds3712", "door station", "c074ad000001"},
		{"monitor-1a", "akuvox-c315", "indoor monitor", "0c1105abcdef"},
		{"desk-101", "yealink-t54w", "desk phone", "805ec0112233"},
		{"desk-102", "yealink-t31p", "desk phone", "805ec0112234"},
		{"reception", "grandstream-grp2612", "desk phone", "000b82aabbcc"},
	}
	if diff := cmp.Diff(wantDevs, devs); diff != "" {
		t.Errorf("Devices (-want +got):\n%s", diff)
	}

	var reach []string
	for _, ds := range checked.DoorStations {
		var rs []string
		for _, r := range ds.Residences {
			rs = append(rs, r.Name)
		}
		for _, u := range ds.Users {
			rs = append(rs, "user."+u.Name)
		}
		reach = append(reach, ds.Device.Name+": "+strings.Join(rs, " "))
	}
	wantReach := []string{"front-gate: apt-1a apt-1b apt-2a user.concierge", "side-door: apt-1b"}
	if diff := cmp.Diff(wantReach, reach); diff != "" {
		t.Errorf("DoorStations (-want +got):\n%s", diff)
	}

	var dial []string
	for _, e := range checked.Dial {
		dial = append(dial, e.Number+" "+e.String())
	}
	wantDial := []string{
		`*97 the voicemail feature code *97`,
		`100 extension 100 of user "concierge"`,
		`100 short form 100 of +35315550100 (user "concierge", trunk "carrier" short_dial)`,
		`101 extension 101 of user "mary"`,
		`101 short form 101 of +35315550101 (user "mary", trunk "carrier" short_dial)`,
		`102 extension 102 of user "aoife"`,
		`102 short form 102 of +35315550102 (user "aoife", trunk "carrier" short_dial)`,
		`200 extension 200 of user "sean"`,
		`201 extension 201 of user "tom"`,
		`203 short form 203 of +35315550203 (user "tom", trunk "carrier" short_dial)`,
		`8101 conference room 8101 of user "mary"`,
	}
	if diff := cmp.Diff(wantDial, dial); diff != "" {
		t.Errorf("Dial (-want +got):\n%s", diff)
	}

	var ddis []string
	for _, d := range checked.DDIs {
		u := "-"
		if d.User != nil {
			u = d.User.Name
		}
		ddis = append(ddis, fmt.Sprintf("%s %s %s %s", d.Number, d.Trunk.Name, u, d.Short))
	}
	wantDDIs := []string{
		"+35315550100 carrier concierge 100",
		"+35315550101 carrier mary 101",
		"+35315550102 carrier aoife 102",
		"+35315550203 carrier tom 203",
	}
	if diff := cmp.Diff(wantDDIs, ddis); diff != "" {
		t.Errorf("DDIs (-want +got):\n%s", diff)
	}

	names := func(us []*lang.User) (out []string) {
		for _, u := range us {
			out = append(out, u.Name)
		}
		return out
	}
	if diff := cmp.Diff([]string{"mary", "sean"}, names(checked.ResidenceUsers["apt-1a"])); diff != "" {
		t.Errorf("ResidenceUsers[apt-1a] (-want +got):\n%s", diff)
	}
	if m := checked.ResidenceMonitors["apt-1a"]; len(m) != 1 || m[0].Name != "monitor-1a" {
		t.Errorf("ResidenceMonitors[apt-1a] = %v", m)
	}
	if p := checked.UserPhones["mary"]; len(p) != 1 || p[0].Name != "desk-101" {
		t.Errorf("UserPhones[mary] = %v", p)
	}
}

func TestCheckNilConfig(t *testing.T) {
	checked, diags := Check(nil)
	if checked == nil || len(diags) != 0 {
		t.Errorf("Check(nil) = %v, %v", checked, diags)
	}
}

// TestMissingSiteWithoutFiles: the only diagnostic allowed without a
// Subject is a missing site in a configuration with no files at all.
func TestMissingSiteWithoutFiles(t *testing.T) {
	_, diags := Check(&lang.Config{Files: map[string]*hcl.File{}, Lock: &lang.Lock{}})
	if len(diags) != 1 || diags[0].Summary != "Missing site" || diags[0].Subject != nil {
		t.Errorf("got %s", describe(diags))
	}
}

// TestExamples: every bundled example site passes the checks (warnings
// allowed, errors not).
func TestExamples(t *testing.T) {
	for _, dir := range fixtureDirs(t, filepath.Join("..", "examples")) {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			_, diags := loadAndCheck(t, dir)
			if diags.HasErrors() {
				t.Errorf("example does not validate:\n%s", describe(diags))
			} else if len(diags) > 0 {
				t.Logf("warnings:\n%s", describe(diags))
			}
		})
	}
}

// TestLabelsOnButtonPanels: labels are the namespace of keypad panels
// only; residences sharing a label behind buttons are fine.
func TestLabelsOnButtonPanels(t *testing.T) {
	files := map[string]string{"site.pbx.hcl": `
site "s" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "s.example.net"
  installer {
    company = "I"
    email   = "i@i.example"
  }
}
residence "east" { label = "1" }
residence "west" { label = "1" }
user "a" {
  first_name = "Sinead"
  last_name  = "Kavanagh"
  email      = "a@example.com"
  role       = "owner"
  residence  = residence.east
  app        = true
}
user "b" {
  first_name = "Declan"
  last_name  = "Moran"
  email      = "b@example.com"
  residence  = residence.west
  app        = true
}
device "door" {
  model = "akuvox-x916"
  mac   = "0C:11:05:00:00:01"
  button "1" { calls = residence.east }
  button "2" { calls = residence.west }
}
`}
	checked, diags := checkSources(t, files, "")
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", describe(diags))
	}
	if ds := checked.DoorStations; len(ds) != 1 || len(ds[0].Residences) != 2 {
		t.Errorf("DoorStations = %+v", ds)
	}
}
