package main

import (
	"fmt"
	"slices"
	"strings"

	"switchboard/compiler"
	"switchboard/compiler/catalogue"
	"switchboard/compiler/credentials"
	"switchboard/lang"
)

// provisioningFiles returns the names of the files a device of model m is
// provisioned with, its MAC written "<mac>": found by building a one-device
// site (whose one user is listed in the directory) with the real renderers, so that the listing says what build
// writes, not what someone remembered it writes.
func provisioningFiles(m *catalogue.Model) ([]string, error) {
	const macHex = "000001"
	mac := strings.ToUpper(m.Vendor.OUIs[0] + macHex)
	var role string
	switch m.Kind {
	case catalogue.DoorStation:
		if m.Buttons > 0 {
			role = "button \"1\" { calls = residence.home }\n"
		} else {
			role = "keypad = true\n"
		}
		if m.Relays > 0 {
			role += "relay \"door\" { dtmf = \"1\" }\n"
		}
	case catalogue.Monitor:
		role = "residence = residence.home\n"
	default:
		role = "user = user.owner\n"
	}
	src := fmt.Sprintf(`site "m" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "m.example"
  installer {
    company = "A"
    email   = "a@a.example"
  }
}
residence "home" {}
user "owner" {
  email     = "o@o.example"
  residence = residence.home
  role      = "owner"
  extension = 101
  app       = true
  directory = true
}
device "d" {
  model = %q
  mac   = %q
  %s}
`, m.ID, mac, role)
	cfg, diags := lang.LoadSources(".", map[string][]byte{"m.pbx.hcl": []byte(src)}, lang.Options{})
	if diags.HasErrors() {
		return nil, fmt.Errorf("a one-device site of %s does not load: %s", m.ID, diags.Error())
	}
	key, err := credentials.KeyFromBytes(make([]byte, 32))
	if err != nil {
		return nil, err
	}
	compiled, diags := compiler.Compile(cfg, compiler.CompileOptions{Key: &key})
	if diags.HasErrors() || compiled.Bundle == nil {
		return nil, fmt.Errorf("a one-device site of %s does not build: %s", m.ID, diags.Error())
	}
	var names []string
	for _, f := range compiled.Bundle.Files {
		if f.Vendor != m.Vendor.ID {
			continue
		}
		names = append(names, strings.ReplaceAll(strings.ReplaceAll(f.Path, strings.ToLower(mac), "<mac>"), mac, "<MAC>"))
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}
