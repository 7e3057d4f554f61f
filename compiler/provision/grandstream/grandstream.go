// Package grandstream renders cfg<mac>.xml (12 lower-case hex digits) for
// Grandstream devices, in the P-value format: settings are elements named
// after their P-number.
//
// Desk phones (GXP21xx, GRP26xx) get the gs_provision document of Wazo's
// templates:
//
//	<gs_provision version="1"><config version="1"><P271>1</P271>…
//
// with P271 account active, P270 account name, P47 SIP server, P35 user ID,
// P36 auth ID, P34 password, P3 display name, P33 voicemail access, P130
// transport (0 UDP, 1 TCP, 2 TLS), P32 register expiry in minutes,
// P2301/P2302/P2303 DTMF in audio / RFC 2833 / SIP INFO (0/1 each), P30 NTP
// server, P64 time zone as a POSIX TZ string (the form Wazo writes).
//
// GDS37xx door systems use their own account block and door settings, in
// the document layout of FusionPBX's GDS3710 template:
//
//	<Device><mac>…</mac><Module_SIP_Basic><P402>…
//
// with P407 account name, P402 SIP server, P404 user ID, P405 auth ID,
// P406 password, P412 register expiry (minutes), P448 transport, P2402
// RFC 2833, P2403 SIP INFO, P30 NTP server, P5006 NTP on, P14858 DTMF door
// opening on, P10457/P15460 remote PIN (DTMF code) of door 1/2,
// P14101/P15466 unlock hold time (seconds, at most 20) of door 1/2, P10462
// number called by the doorbell, P14856 call mode (1 SIP number), P14827
// doorbell mode (0 call). The GDS time-zone value format is not verified, so
// the zone is not written for GDS (with a warning).
//
// Sources: ../../../../shared/reference/provisioning.md §4. Not rendered,
// with a warning: phone line keys other than the line itself (the MPK/VPK
// codes for DTMF keys are not verified), phone directories (phonebook.xml).
package grandstream

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"switchboard/compiler/ir"
	"switchboard/compiler/provision/devfile"
)

// Vendor is the vendor name of devices this package renders.
const Vendor = "grandstream"

type family int

const (
	phone family = iota + 1
	gds
)

type model struct {
	family  family
	buttons int
	keypad  bool
	relays  int
}

var models = map[string]model{
	"gxp2130": {family: phone}, "gxp2135": {family: phone}, "gxp2140": {family: phone},
	"gxp2160": {family: phone}, "gxp2170": {family: phone},
	"grp2612": {family: phone}, "grp2613": {family: phone}, "grp2614": {family: phone},
	"grp2615": {family: phone}, "grp2616": {family: phone},
	"gds3710": {family: gds, buttons: 1, keypad: true, relays: 2},
	"gds3705": {family: gds, buttons: 1, keypad: true, relays: 1},
}

// Models lists the catalogue model names this renderer knows, sorted.
func Models() []string {
	var out []string
	for m := range models {
		out = append(out, Vendor+"-"+m)
	}
	slices.Sort(out)
	return out
}

// Path is the file name a Grandstream device fetches for a MAC.
func Path(mac string) string { return "cfg" + mac + ".xml" }

// maxHold is the longest unlock hold time the GDS accepts, in seconds.
const maxHold = 20

// Render writes one cfg<mac>.xml per device.
func Render(p *ir.Program, devices []*ir.Device, pw devfile.Passwords) ([]devfile.File, []devfile.Warning) {
	var files []devfile.File
	var warns []devfile.Warning
	for _, d := range devices {
		var ws []devfile.Warning
		warn := func(feature string, o ir.Origin, format string, args ...any) {
			ws = append(ws, devfile.Warn(d, feature, o, format, args...))
		}
		m, known := models[devfile.Model(d)]
		if !known {
			m = model{family: phone, buttons: len(d.Buttons), keypad: d.Keypad, relays: len(d.Relays)}
			if d.Kind == ir.DoorStation {
				m.family = gds
			}
			warn("model", ir.Origin{}, "The Grandstream renderer has no table for model %q; it is written as a %s and its limits are not checked.", d.Model, map[family]string{phone: "GXP/GRP phone", gds: "GDS door system"}[m.family])
		}
		var data []byte
		switch m.family {
		case gds:
			if d.Kind != ir.DoorStation {
				warn("device kind", ir.Origin{}, "Model %q is a door system, but the device is used as a %s.", d.Model, d.Kind)
			}
			data = doorSystem(p, d, m, pw, warn)
		default:
			if d.Kind != ir.Phone {
				warn("device kind", ir.Origin{}, "Model %q is a desk phone, but the device is used as a %s.", d.Model, d.Kind)
			}
			data = deskPhone(p, d, pw, warn)
		}
		files = append(files, devfile.File{Path: Path(d.MAC), Mode: devfile.ModeSecret, Data: data, Device: d.Name, Vendor: Vendor})
		warns = append(warns, ws...)
	}
	return files, warns
}

type warnFunc func(feature string, o ir.Origin, format string, args ...any)

// pvals collects P-values; they are written in numeric order.
type pvals map[int]string

func (v pvals) elems() []*devfile.Elem {
	keys := make([]int, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*devfile.Elem, 0, len(keys))
	for _, k := range keys {
		out = append(out, devfile.T("P"+strconv.Itoa(k), v[k]))
	}
	return out
}

func server(d *ir.Device) string {
	if d.SIP.Port == 5060 {
		return d.SIP.Server
	}
	return d.SIP.Server + ":" + strconv.Itoa(d.SIP.Port)
}

// minutes rounds a registration expiry up to whole minutes, at least one.
func minutes(d ir.Duration) string {
	return strconv.Itoa(max(1, (d.Seconds()+59)/60))
}

var transports = map[string]string{"udp": "0", "tcp": "1", "tls": "2"}

func deskPhone(p *ir.Program, d *ir.Device, pw devfile.Passwords, warn warnFunc) []byte {
	acct := p.Account(d.Account)
	v := pvals{}
	label := acct.DisplayName
	for _, k := range d.LineKeys {
		if k.Type == ir.KeyLine && k.Label != "" {
			label = k.Label
			break
		}
	}
	v[271] = "1"
	v[270] = label
	v[47] = server(d)
	v[35] = acct.Username
	v[36] = acct.AuthName
	v[34] = pw.SIPPassword(*acct)
	v[3] = acct.DisplayName
	v[130] = transports[d.SIP.Transport]
	v[32] = minutes(d.SIP.Expiry)
	v[2301], v[2302], v[2303] = "0", "1", "0"
	if u := p.User(d.User); u != nil && u.Mailbox != "" {
		if vm := p.VoicemailAccess(); vm != "" {
			v[33] = vm
		}
	}
	if len(p.Site.NTP) > 0 {
		v[30] = p.Site.NTP[0]
	}
	tz := cmp.Or(d.Timezone, p.Site.Timezone)
	if tz != "" {
		if z, err := devfile.LoadZone(tz); err != nil {
			warn("time zone", ir.Origin{}, "Time zone %q is not known: %v; the phone keeps its own setting.", tz, err)
		} else {
			v[64] = z.POSIX()
		}
	}
	for _, k := range d.LineKeys {
		if k.Type != ir.KeyLine {
			warn(fmt.Sprintf("line key %d", k.Index), k.Origin, "Grandstream %s keys are not rendered (their key codes are not verified); set key %d (%q) on the phone.", k.Type, k.Index, k.Label)
		}
	}
	if len(d.Contacts) > 0 {
		warn("directory", ir.Origin{}, "Grandstream phone books are not rendered; the %d directory contacts are not on the phone.", len(d.Contacts))
	}
	root := devfile.E("gs_provision", devfile.E("config", v.elems()...).WithAttr("version", "1")).WithAttr("version", "1")
	return devfile.XMLDocument(root)
}

func doorSystem(p *ir.Program, d *ir.Device, m model, pw devfile.Passwords, warn warnFunc) []byte {
	acct := p.Account(d.Account)

	dateTime := pvals{}
	if len(p.Site.NTP) > 0 {
		dateTime[5006] = "1"
		dateTime[30] = p.Site.NTP[0]
	}
	if tz := cmp.Or(d.Timezone, p.Site.Timezone); tz != "" {
		warn("time zone", ir.Origin{}, "The GDS time-zone setting (P64) takes a value whose format is not verified, so time zone %q is not written; set it on the device.", tz)
	}

	basic := pvals{
		407: devfile.Label(d),
		402: server(d),
		404: acct.Username,
		405: acct.AuthName,
		406: pw.SIPPassword(*acct),
	}
	advanced := pvals{
		412:  minutes(d.SIP.Expiry),
		448:  transports[d.SIP.Transport],
		2402: "1",
		2403: "0",
	}

	door := pvals{}
	for _, b := range d.Buttons {
		if b.Index > m.buttons {
			warn("button "+b.Label, b.Origin, "Model %q has %d doorbell button(s); button %q (position %d) cannot be wired. Visitors can still key %q.", d.Model, m.buttons, b.Label, b.Index, b.Dial)
			continue
		}
		door[14827] = "0" // doorbell calls
		door[14856] = "1" // a SIP number
		door[10462] = b.Dial
	}
	if d.Keypad && !m.keypad {
		warn("keypad", ir.Origin{}, "Model %q has no keypad; visitors can only use its doorbell.", d.Model)
	}
	pin := map[int]int{1: 10457, 2: 15460}
	hold := map[int]int{1: 14101, 2: 15466}
	for _, r := range d.Relays {
		if r.Index > m.relays || r.Index > 2 {
			warn("relay "+r.Name, r.Origin, "Model %q has %d door output(s); relay %q (relay %d) cannot be configured.", d.Model, m.relays, r.Name, r.Index)
			continue
		}
		if strings.Trim(r.DTMF, "0123456789") != "" {
			warn("relay "+r.Name, r.Origin, "The GDS remote PIN of relay %q is %q; PINs with * or # are not verified to work.", r.Name, r.DTMF)
		}
		secs := r.Hold.Seconds()
		if secs > maxHold {
			warn("relay "+r.Name, r.Origin, "The GDS holds a door open for at most %d seconds; relay %q asks for %d.", maxHold, r.Name, secs)
			secs = maxHold
		}
		door[14858] = "1"
		door[pin[r.Index]] = r.DTMF
		door[hold[r.Index]] = strconv.Itoa(secs)
	}
	if len(d.LineKeys) > 0 || len(d.Contacts) > 0 {
		warn("phone features", ir.Origin{}, "GDS door systems have no line keys or directory; they are ignored.")
	}

	root := devfile.E("Device", devfile.T("mac", d.MAC))
	for _, mod := range []struct {
		name string
		v    pvals
	}{
		{"Module_Date_Time", dateTime},
		{"Module_SIP_Basic", basic},
		{"Module_SIP_Advanced", advanced},
		{"Module_Door_System", door},
	} {
		if len(mod.v) > 0 {
			root.Add(devfile.E(mod.name, mod.v.elems()...))
		}
	}
	return devfile.XMLDocument(root)
}

// Settings is a cfg<mac>.xml read back.
type Settings struct {
	Root string // "gs_provision" or "Device"
	MAC  string // the <mac> element of a GDS file
	// P maps P-numbers to values, from anywhere in the document.
	P map[int]string
}

// Parse reads a cfg<mac>.xml: well-formed XML with a gs_provision or Device
// root, P-values as leaf elements named P<number>. A P-value given twice is
// an error.
func Parse(data []byte) (*Settings, error) {
	root, err := devfile.ParseXML(data)
	if err != nil {
		return nil, err
	}
	if root.Name != "gs_provision" && root.Name != "Device" {
		return nil, fmt.Errorf("root element <%s>, want <gs_provision> or <Device>", root.Name)
	}
	s := &Settings{Root: root.Name, P: map[int]string{}}
	var walk func(e *devfile.Elem) error
	walk = func(e *devfile.Elem) error {
		for _, k := range e.Kids {
			if len(k.Kids) > 0 {
				if err := walk(k); err != nil {
					return err
				}
				continue
			}
			if k.Name == "mac" && e == root {
				s.MAC = k.Text
				continue
			}
			num, ok := strings.CutPrefix(k.Name, "P")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 0 || strconv.Itoa(n) != num {
				return fmt.Errorf("element <%s> is not a P-value", k.Name)
			}
			if _, dup := s.P[n]; dup {
				return fmt.Errorf("P%d given twice", n)
			}
			s.P[n] = k.Text
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	return s, nil
}
