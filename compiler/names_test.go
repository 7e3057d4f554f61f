package compiler

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/credentials"
	"switchboard/compiler/plan"
	"switchboard/compiler/provision"
	"switchboard/compiler/state"
	"switchboard/lang"
)

// TestNameChangeReachesEveryDevice renames a person and checks that the
// new name changes exactly the files that show it — the Yealink directory
// and the renamed person's own phone (line label and display name), the
// other person's Grandstream phone book, the monitor's contact list — and
// nothing else; that her app account carries it; that a phone's own label
// wins over its user's name; and that the plan names every device the name
// reaches.
func TestNameChangeReachesEveryDevice(t *testing.T) {
	k := fixedKey(t, 7)
	before := compileNames(t, k, "")
	after := compileNames(t, k, "Walsh")

	if got := after.program.Account("app.mary").DisplayName; got != "Mary Walsh" {
		t.Errorf("app account display name %q", got)
	}
	if got := after.program.Device("desk-john").LineKeys[0].Label; got != "John (kitchen)" {
		t.Errorf("desk-john line label %q, want its own label", got)
	}

	var changed []string
	for _, f := range after.bundle.Files {
		old := before.bundle.File(f.Path)
		if old == nil || !bytes.Equal(old.Data, f.Data) {
			changed = append(changed, f.Path)
		}
	}
	want := []string{
		"0c1105000002-contacts.json", // the monitor's contacts
		"805ec0000003-directory.xml", // Mary's Yealink directory
		"805ec0000003.cfg",           // Mary's line label and display name
		"gsc074ad000004/phonebook.xml",
	}
	if d := cmp.Diff(want, changed); d != "" {
		t.Errorf("changed files (-want +got):\n%s", d)
	}
	cfg := string(after.bundle.File("805ec0000003.cfg").Data)
	for _, line := range []string{"account.1.display_name = Mary Walsh", "account.1.label = Mary Walsh", "linekey.1.label = Mary Walsh"} {
		if !strings.Contains(cfg, line+"\n") {
			t.Errorf("805ec0000003.cfg lacks %q", line)
		}
	}
	for _, path := range want[:2] {
		if !strings.Contains(string(after.bundle.File(path).Data), "Mary Walsh") {
			t.Errorf("%s does not name Mary Walsh", path)
		}
	}
	book := string(after.bundle.File("gsc074ad000004/phonebook.xml").Data)
	if !strings.Contains(book, "<FirstName>Mary</FirstName>") || !strings.Contains(book, "<LastName>Walsh</LastName>") {
		t.Errorf("phone book:\n%s", book)
	}

	desired := func(c *compiled) *plan.Desired {
		return plan.NewDesired(plan.Input{Program: c.program, Bundle: c.bundle, Key: k})
	}
	st := state.New("names")
	for _, o := range desired(before).Objects {
		st.Put(state.Object{Address: o.Address, Attributes: o.Attributes})
	}
	pl := plan.Diff(desired(after), st)
	wantSummary := "Mary Byrne is now called Mary Walsh; the name changes on app account, desk-john, desk-mary, monitor"
	found := false
	for _, l := range pl.Summary {
		found = found || l == wantSummary
	}
	if !found {
		t.Errorf("summary lacks %q:\n%s", wantSummary, strings.Join(pl.Summary, "\n"))
	}
	for _, c := range pl.Changes {
		if c.Kind == plan.KindDevice && c.Name == "gate" {
			t.Errorf("the gate shows no names, yet changes: %v", c.Attributes)
		}
	}
}

// compileNames compiles testdata/names with Mary's last name replaced by
// last, when given.
func compileNames(t *testing.T, k credentials.Key, last string) *compiled {
	t.Helper()
	src, err := os.ReadFile("testdata/names/site.pbx.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if last != "" {
		src = bytes.Replace(src, []byte(`last_name  = "Byrne"`), []byte(`last_name  = "`+last+`"`), 1)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.pbx.hcl"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := lang.Load(dir, lang.Options{})
	if diags.HasErrors() {
		t.Fatal(describe(diags))
	}
	checked, diags := Check(cfg)
	if diags.HasErrors() {
		t.Fatal(describe(diags))
	}
	p, diags := Lower(checked, LowerOptions{ProvisionURL: "http://prov.names.example/p/"})
	if diags.HasErrors() {
		t.Fatal(describe(diags))
	}
	b, diags := provision.Render(p, credentials.NewSource(k, p))
	if diags.HasErrors() {
		t.Fatal(describe(diags))
	}
	return &compiled{program: p, bundle: b}
}
