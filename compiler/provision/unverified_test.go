package provision_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/provision"
	"switchboard/compiler/provision/akuvox"
)

// docs/unverified-keys.md is provision.UnverifiedMarkdown, checked in so
// that it reads on the web; UPDATE_GOLDEN=1 rewrites it.
func TestUnverifiedDocIsGenerated(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "unverified-keys.md")
	got := provision.UnverifiedMarkdown()
	if irtest.UpdateGolden() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("docs/unverified-keys.md is out of date; run UPDATE_GOLDEN=1 go test ./compiler/provision -run TestUnverifiedDocIsGenerated (-want +got):\n%s", d)
	}
}

// Every row names its vendor, key, use, source and open question, once; the
// vendor's rows are together; and the settings written on the strength of
// public code alone — found in a rendered bundle — are listed.
func TestUnverifiedTable(t *testing.T) {
	seen := map[string]bool{}
	done := map[string]bool{}
	last := ""
	for _, k := range provision.Unverified {
		if k.Vendor == "" || k.Key == "" || k.Use == "" || k.Source == "" || k.Check == "" {
			t.Errorf("incomplete row %+v", k)
		}
		if seen[k.Vendor+" "+k.Key] {
			t.Errorf("%s %s listed twice", k.Vendor, k.Key)
		}
		seen[k.Vendor+" "+k.Key] = true
		if k.Vendor != last && done[k.Vendor] {
			t.Errorf("the %s rows are not together", k.Vendor)
		}
		done[last], last = true, k.Vendor
	}

	p := irtest.HarbourView()
	p.Site.ProvisionURL = "http://prov.example/"
	b, _ := render(t, p, key(t, 0))
	var all strings.Builder
	for _, f := range b.Files {
		all.Write(f.Data)
	}
	listed := func(vendor, key string) bool {
		for _, k := range provision.Unverified {
			if k.Vendor == vendor && strings.Contains(k.Key, key) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct{ vendor, key, inFile string }{
		{"akuvox", akuvox.UnlockKey, akuvox.UnlockKey + " = "},
		{"akuvox", "Config.Account1.DTMF.Type", "Config.Account1.DTMF.Type = 2"},
		{"grandstream", "P330", "<P330>"},
		{"grandstream", "P331", "<P331>"},
		{"grandstream", "P332", "<P332>"},
		{"grandstream", "AddressBook", "<AddressBook>"},
		{"yealink", "linekey.N.type = 11", "type = 11"},
	} {
		if !strings.Contains(all.String(), c.inFile) {
			t.Errorf("the bundle does not write %q; the test is out of date", c.inFile)
		}
		if !listed(c.vendor, c.key) {
			t.Errorf("%s %s is written but not listed as unverified", c.vendor, c.key)
		}
	}
}
