// Package devfile is the contract between the provisioning bundle and the
// vendor renderers, and the file formats they share: the File a device
// fetches, the Warning a renderer raises for a feature a model lacks, the
// password lookup, the key = value format (Akuvox AutoP, Yealink), a small
// deterministic XML writer and reader (Grandstream), and IANA time zones
// turned into the rule forms devices understand.
package devfile

import (
	"fmt"
	"io/fs"
	"strings"
	"unicode"

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
