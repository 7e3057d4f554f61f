package compiler

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLowerDigest: each account is offered what its client answers — a
// device what its model's catalogue line says, an app the site's digest
// attribute — and the site keeps that list for user names that are no
// account, so a challenge never tells which names exist.
func TestLowerDigest(t *testing.T) {
	site := func(digest string) map[string]string {
		return map[string]string{"site.pbx.hcl": `
site "s" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "s.example.net"
  ` + digest + `
  installer {
    company = "I"
    email   = "i@i.example"
  }
}
residence "home" { label = "1" }
user "a" {
  email     = "a@example.com"
  role      = "owner"
  residence = residence.home
  app       = true
}
device "door" {
  model = "akuvox-r20a"
  mac   = "0C:11:05:00:00:01"
  button "1" { calls = residence.home }
}
`}
	}
	tests := []struct {
		name, attr string
		want       map[string][]string // account (or "site") → algorithms
	}{
		{"default", "", map[string][]string{"site": {"MD5"}, "app.a": {"MD5"}, "device.door": {"MD5"}}},
		{"site asks for SHA-256 first", `digest = ["sha-256", "md5"]`,
			map[string][]string{"site": {"SHA-256", "MD5"}, "app.a": {"SHA-256", "MD5"}, "device.door": {"MD5"}}},
		{"SHA-256 only", `digest = ["sha-256"]`,
			map[string][]string{"site": {"SHA-256"}, "app.a": {"SHA-256"}, "device.door": {"MD5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checked, diags := checkSources(t, site(tt.attr), "")
			if diags.HasErrors() {
				t.Fatalf("check:\n%s", describe(diags))
			}
			p, diags := Lower(checked, LowerOptions{})
			if diags.HasErrors() {
				t.Fatalf("lower:\n%s", describe(diags))
			}
			got := map[string][]string{"site": p.Site.Digest}
			for _, a := range p.Accounts {
				got[a.Name] = a.Digest
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("digest algorithms (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want["site"], p.DigestOf("nobody")); diff != "" {
				t.Errorf("DigestOf(unknown name) (-want +got):\n%s", diff)
			}
		})
	}
}
