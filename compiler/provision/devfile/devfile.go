// Package devfile is the contract between the provisioning bundle and the
// vendor renderers, and the file formats they share: the File a device
// fetches, the Warning a renderer raises for a feature a model lacks, the
// password lookup, the model's capabilities from the device catalogue, the
// key = value format (Akuvox AutoP, Yealink), a small deterministic XML
// writer and reader (Grandstream), and IANA time zones turned into the rule
// forms devices understand.
package devfile

import (
	"fmt"
	"io/fs"
	"strings"
	"unicode"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/ir"
)

// File modes: a file holding a password is readable by its owner only.
const (
	ModeSecret fs.FileMode = 0o600
	ModePublic fs.FileMode = 0o644
)

// File is one file of a provisioning bundle, as a device fetches it.
type File struct {
	// Path is relative to the bundle root, forward slashes, named as the
	// vendor's firmware requests it (for example "805ec0112233.cfg").
	Path string
	// Mode is ModeSecret for a file holding a secret, else ModePublic.
	Mode fs.FileMode
	Data []byte
	// Device is the device the file is for, "" for a common file.
	Device string
	// Vendor is the renderer that wrote the file.
	Vendor string
}

// Secret reports whether the file holds a secret.
func (f File) Secret() bool { return f.Mode == ModeSecret }

// Warning is a feature of a device profile its model cannot carry, or
// carries only with an unverified setting: never a silent loss.
type Warning struct {
	Device  string    // device name
	Model   string    // device model
	Feature string    // short feature name, e.g. "keypad", "line key 31"
	Detail  string    // full sentences: what happens instead and what to do
	Origin  ir.Origin // the IR node the warning is about
	// Shared is true when Detail says nothing particular to the device (it
	// is about the model, the vendor's format or the site). It is still
	// reported once for each device, at that device: an installer fixes or
	// checks each device where it is written.
	Shared bool
}

// Passwords looks up an account's SIP password (package credentials
// implements it).
type Passwords interface {
	SIPPassword(ir.Account) string
}

// OneLine makes s safe as a single-line value: control characters and line
// or paragraph separators become spaces, and surrounding spaces go. Values
// of key = value files and XML elements pass through it.
func OneLine(s string) string {
	if strings.IndexFunc(s, needsCleaning) < 0 {
		return strings.TrimSpace(s)
	}
	b := []rune(s)
	for i, r := range b {
		if needsCleaning(r) {
			b[i] = ' '
		}
	}
	return strings.TrimSpace(string(b))
}

func needsCleaning(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\uFEFF' || r == unicode.ReplacementChar
}

// Model strips the vendor prefix of a catalogue model name:
// "akuvox-r29c" → "r29c".
func Model(d *ir.Device) string {
	return strings.TrimPrefix(d.Model, d.Vendor+"-")
}

// Label is what a device shows as its own name: its location, else its
// name.
func Label(d *ir.Device) string {
	if l := OneLine(d.Location); l != "" {
		return l
	}
	return d.Name
}

// Warn builds a Warning about device d; origin is the node concerned (the
// zero Origin means the device itself).
func Warn(d *ir.Device, feature string, origin ir.Origin, format string, args ...any) Warning {
	if origin.IsZero() {
		origin = d.Origin
	}
	return Warning{Device: d.Name, Model: d.Model, Feature: feature, Detail: fmt.Sprintf(format, args...), Origin: origin}
}

// WarnShared builds a shared Warning about device d (see Warning.Shared):
// format and args must not depend on the device, only on its model, the
// vendor's format or the site.
func WarnShared(d *ir.Device, feature string, format string, args ...any) Warning {
	w := Warn(d, feature, ir.Origin{}, format, args...)
	w.Shared = true
	return w
}

// Lookup returns the catalogue entry of d's model: the one source of what
// a model can do (kind, buttons, keypad, relays, DTMF code length, line
// keys, accounts). Renderers keep only vendor facts (file names, key names,
// firmware codes). For a model the catalogue does not know, which the check
// pass rejects but a hand-made program may hold, Lookup returns false and a
// stand-in sized from the profile itself, so that nothing is cut.
func Lookup(d *ir.Device) (*catalogue.Model, bool) {
	if m, ok := catalogue.Lookup(d.Model); ok {
		return m, true
	}
	m := &catalogue.Model{
		ID:       d.Model,
		Vendor:   &catalogue.Vendor{ID: d.Vendor, Name: d.Vendor},
		Name:     Model(d),
		Kind:     CatalogueKind(d.Kind),
		Keypad:   d.Keypad,
		Accounts: 1,
	}
	for _, b := range d.Buttons {
		m.Buttons = max(m.Buttons, b.Index)
	}
	for _, r := range d.Relays {
		m.Relays = max(m.Relays, r.Index)
	}
	for _, k := range d.LineKeys {
		m.LineKeys = max(m.LineKeys, k.Index)
	}
	return m, false
}

// Kind is the IR's device kind of a catalogue kind.
func Kind(k catalogue.Kind) ir.DeviceKind {
	switch k {
	case catalogue.DoorStation:
		return ir.DoorStation
	case catalogue.Monitor:
		return ir.Monitor
	case catalogue.Phone:
		return ir.Phone
	}
	return ""
}

// CatalogueKind is the catalogue kind of an IR device kind.
func CatalogueKind(k ir.DeviceKind) catalogue.Kind {
	switch k {
	case ir.DoorStation:
		return catalogue.DoorStation
	case ir.Monitor:
		return catalogue.Monitor
	case ir.Phone:
		return catalogue.Phone
	}
	return ""
}

// IsDTMF reports whether s is made only of DTMF keypad symbols 0-9 * #.
func IsDTMF(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || c == '*' || c == '#') {
			return false
		}
	}
	return true
}
