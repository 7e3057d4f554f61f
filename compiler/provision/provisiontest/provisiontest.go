// Package provisiontest reads provisioning bundles back for tests: every
// file through its vendor's own parser (AutoP lines, Yealink lines,
// well-formed Grandstream XML), and a bundle checked against the IR
// program it was rendered from.
package provisiontest

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/ir"
	"switchboard/compiler/provision"
	"switchboard/compiler/provision/akuvox"
	"switchboard/compiler/provision/devfile"
	"switchboard/compiler/provision/grandstream"
	"switchboard/compiler/provision/yealink"
)

// Readback is one bundle file read back.
type Readback struct {
	// Settings are the file's settings: key = value lines (Akuvox,
	// Yealink; a Yealink boot file's includes as "include.<n>"), P-values
	// as "P<n>" plus "root" and "mac" (Grandstream). Empty for a Yealink
	// directory, which is only checked to be well-formed XML.
	Settings map[string]string
	// Account is the SIP account the file configures, nil when it
	// configures none.
	Account *Account
	// Relays maps relay index to DTMF code, for the relays a door
	// station's file opens.
	Relays map[int]string
	// Contacts are the entries of a contact list, directory or phone book
	// ("Name <number>"), nil for other files.
	Contacts []string
}

// Account is a SIP account as a device file writes it.
type Account struct {
	Username, AuthName, Password string
}

// Read parses f with its vendor's parser and extracts its SIP account and
// relay codes.
func Read(f provision.File) (*Readback, error) {
	rb := &Readback{Settings: map[string]string{}, Relays: map[int]string{}}
	switch f.Vendor {
	case akuvox.Vendor:
		if strings.HasSuffix(f.Path, "-contacts.json") {
			cs, err := akuvox.ParseContacts(f.Data)
			if err != nil {
				return nil, err
			}
			rb.Contacts = []string{}
			for _, c := range cs {
				rb.Contacts = append(rb.Contacts, c.Name+" <"+c.Phone+">")
			}
			return rb, nil
		}
		kvs, err := akuvox.Parse(f.Data)
		if err != nil {
			return nil, err
		}
		m := devfile.KVMap(kvs)
		rb.Settings = m
		const a = "Config.Account1.GENERAL."
		if _, ok := m[a+"UserName"]; ok {
			rb.Account = &Account{m[a+"UserName"], m[a+"AuthName"], m[a+"Pwd"]}
		}
		for i := 1; i <= 8; i++ {
			if v, ok := m[fmt.Sprintf("Config.DoorSetting.DTMF.Code%d", i)]; ok {
				rb.Relays[i] = v
			}
		}
	case yealink.Vendor:
		if strings.HasSuffix(f.Path, ".xml") {
			root, err := devfile.ParseXML(f.Data)
			if err != nil {
				return nil, err
			}
			rb.Contacts = []string{}
			for _, e := range root.Kids {
				rb.Contacts = append(rb.Contacts, text(e, "Name")+" <"+text(e, "Telephone")+">")
			}
			return rb, nil
		}
		c, err := yealink.Parse(f.Data)
		if err != nil {
			return nil, err
		}
		m := devfile.KVMap(c.Settings)
		for i, inc := range c.Includes {
			m["include."+strconv.Itoa(i)] = inc
		}
		rb.Settings = m
		if _, ok := m["account.1.user_name"]; ok {
			rb.Account = &Account{m["account.1.user_name"], m["account.1.auth_name"], m["account.1.password"]}
		}
	case grandstream.Vendor:
		if strings.HasSuffix(f.Path, "/phonebook.xml") {
			root, err := devfile.ParseXML(f.Data)
			if err != nil {
				return nil, err
			}
			rb.Contacts = []string{}
			for _, e := range root.Kids {
				name := strings.Join(strings.Fields(text(e, "FirstName")+" "+text(e, "LastName")), " ")
				rb.Contacts = append(rb.Contacts, name+" <"+text(child(e, "Phone"), "phonenumber")+">")
			}
			return rb, nil
		}
		s, err := grandstream.Parse(f.Data)
		if err != nil {
			return nil, err
		}
		m := map[string]string{"root": s.Root, "mac": s.MAC}
		for n, v := range s.P {
			m["P"+strconv.Itoa(n)] = v
		}
		rb.Settings = m
		user, auth, pw := 35, 36, 34
		if s.Root == "Device" {
			user, auth, pw = 404, 405, 406
			for door, pin := range map[int]int{1: 10457, 2: 15460} {
				if v, ok := s.P[pin]; ok {
					rb.Relays[door] = v
				}
			}
		}
		if _, ok := s.P[user]; ok {
			rb.Account = &Account{s.P[user], s.P[auth], s.P[pw]}
		}
	default:
		return nil, fmt.Errorf("no parser for vendor %q", f.Vendor)
	}
	return rb, nil
}

// child returns e's first child named name, or an empty element.
func child(e *devfile.Elem, name string) *devfile.Elem {
	for _, k := range e.Kids {
		if k.Name == name {
			return k
		}
	}
	return &devfile.Elem{}
}

// text returns the text of e's first child named name.
func text(e *devfile.Elem, name string) string { return child(e, name).Text }

// Check verifies bundle b against the program p it was rendered from with
// passwords pw, given Render's diagnostics, and returns every violation:
//
//   - every file parses back with its vendor's parser;
//   - every device has a 0600 configuration file named with its MAC;
//   - the SIP account in each file exists in the IR with the same
//     username, and is the account of the file's device, with its auth
//     name and derived password;
//   - the relay codes in a door station's file equal the IR's, and a relay
//     missing from the file was warned about;
//   - the entries of a contact list, directory or phone book are the
//     device's IR contacts, in order;
//   - a password appears only in 0600 files, and no common file is 0600.
func Check(p *ir.Program, b *provision.Bundle, pw provision.Passwords, diags hcl.Diagnostics) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	byUsername := map[string]*ir.Account{}
	var passwords [][]byte
	for i := range p.Accounts {
		a := &p.Accounts[i]
		byUsername[a.Username] = a
		passwords = append(passwords, []byte(pw.SIPPassword(*a)))
	}
	configured := map[string]bool{}
	for _, f := range b.Files {
		rb, err := Read(f)
		if err != nil {
			fail("%s: does not parse back: %v", f.Path, err)
			continue
		}
		if !f.Secret() {
			for _, s := range passwords {
				if bytes.Contains(f.Data, s) {
					fail("%s: holds a password but has mode %04o", f.Path, f.Mode)
					break
				}
			}
		}
		if f.Device == "" {
			if f.Secret() || rb.Account != nil {
				fail("%s: common file with a secret or an account", f.Path)
			}
			continue
		}
		d := p.Device(f.Device)
		if d == nil {
			fail("%s: for unknown device %q", f.Path, f.Device)
			continue
		}
		if rb.Contacts != nil {
			want := []string{}
			for _, c := range d.Contacts {
				name := devfile.OneLine(c.Name)
				if f.Vendor == grandstream.Vendor {
					// First and last name are separate elements, whose
					// surrounding blanks XML readers drop.
					name = strings.Join(strings.Fields(name), " ")
				}
				want = append(want, name+" <"+c.Number+">")
			}
			if !slices.Equal(want, rb.Contacts) {
				fail("%s: contacts %q, the IR says %q", f.Path, rb.Contacts, want)
			}
		}
		if rb.Account == nil {
			continue
		}
		if f.Secret() && strings.Contains(f.Path, d.MAC) {
			configured[d.Name] = true
		}
		got := rb.Account
		a := byUsername[got.Username]
		switch {
		case a == nil:
			fail("%s: SIP account %q is not in the IR", f.Path, got.Username)
			continue
		case a.Name != d.Account:
			fail("%s: SIP account %q is %s, not the account of device %q (%s)", f.Path, got.Username, a.Name, d.Name, d.Account)
		}
		if got.AuthName != a.AuthName || got.Password != pw.SIPPassword(*a) {
			fail("%s: account %q has auth name %q and a password other than the IR's %q and derived password", f.Path, got.Username, got.AuthName, a.AuthName)
		}
		if d.Kind != ir.DoorStation {
			continue
		}
		for _, r := range d.Relays {
			code, ok := rb.Relays[r.Index]
			switch {
			case !ok && !Warned(diags, d.Name, "relay "+r.Name):
				fail("%s: relay %q (%d) is missing and was not warned about", f.Path, r.Name, r.Index)
			case ok && code != r.DTMF:
				fail("%s: relay %d opens on %q, the IR says %q", f.Path, r.Index, code, r.DTMF)
			}
			delete(rb.Relays, r.Index)
		}
		for i, code := range rb.Relays {
			fail("%s: relay %d (code %q) is not in the IR", f.Path, i, code)
		}
	}
	for _, d := range p.Devices {
		if !configured[d.Name] {
			fail("device %q has no 0600 configuration file named with its MAC %s", d.Name, d.MAC)
		}
	}
	return errs
}

// Warned reports whether Render warned about feature of device.
func Warned(diags hcl.Diagnostics, device, feature string) bool {
	for _, d := range diags {
		if w, ok := d.Extra.(*provision.WarningDevices); ok && w.Feature == feature && slices.Contains(w.Devices, device) {
			return true
		}
	}
	return false
}
