package lang

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// One missing quote makes the parser read the rest of the file out of
// step; the person needs the first error, a count of the rest, and the
// errors of the files that parsed.
func TestSyntaxErrorCascadeCapped(t *testing.T) {
	broken := siteHeader + `
locals {
  flats = ["flat-1a"]
}

residence "home" {
  label = "1A
}

user "a" {
  email     = "a@x.example"
  residence = residence.home
  extension = 101
}

user "b" {
  email     = "b@x.example"
  extension = 102
}
`
	other := `
dynamic "residence" {
  for_each = local.flats
  labels   = [residence.value]
  content {}
}

dynamic "residence" {
  for_each = local.rooms # declared nowhere: may have been in site.pbx.hcl
  labels   = [residence.value]
  content {}
}

user "c" {
  email     = "c@x.example"
  residence = residence.home
  role      = "landlord"
}

user "d" {
  email     = "d@x.example"
  residence = residence.flat
}
`
	_, diags := LoadSources(t.TempDir(), map[string][]byte{
		"site.pbx.hcl":   []byte(broken),
		"people.pbx.hcl": []byte(other),
	}, Options{})
	want := []string{
		"error: 17: Invalid multi-line string",
		"warning: 17: 13 more errors suppressed in site.pbx.hcl",
		// people.pbx.hcl parsed: its own mistakes are reported, but not
		// residence.flat nor local.rooms, which may be among what
		// site.pbx.hcl lost.
		"error: 17: Invalid value",
	}
	if diff := cmp.Diff(want, summaries(diags)); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s\n%s", diff, diags)
	}
}
