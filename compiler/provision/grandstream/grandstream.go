// Package grandstream renders cfg<mac>.xml (12 lower-case hex digits) for
// Grandstream devices, in the P-value format: settings are elements named
// after their P-number.
//
// Desk phones (GXP21xx, GRP26xx) get the gs_provision document of Wazo's
// templates:
//
//	<gs_provision version="1"><config version="1"><P271>1</P271>…
//
// with P271 account active, P270 account name, P47 SIP server, P2312
// secondary SIP server (the site's second node), P35 user ID,
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
// with P407 account name, P402 SIP server, P2412 secondary SIP server,
// P404 user ID, P405 auth ID,
// P406 password, P412 register expiry (minutes), P448 transport, P2402
// RFC 2833, P2403 SIP INFO, P30 NTP server, P5006 NTP on, P14858 DTMF door
// opening on, P10457/P15460 remote PIN (DTMF code) of door 1/2,
// P14101/P15466 unlock hold time (seconds, at most 20) of door 1/2, P10462
// number called by the doorbell, P14856 call mode (1 SIP number), P14827
// doorbell mode (0 call). The GDS time-zone value format is not verified, so
// the zone is not written for GDS (with a warning).
//
// Which document a model gets follows its kind in the device catalogue
// (compiler/catalogue), and so does its line-key count; this package keeps
// only P-numbers and the limits of the GDS P-value set (one doorbell number,
// two doors, 20 s hold).
//
// Phones with a directory get a phone book, <dir>/phonebook.xml
// (PhonebookPath) in the AddressBook format, and P330 phone-book download
// (1 HTTP, 3 HTTPS), P331 its server path without the scheme (the phone
// appends /phonebook.xml), P332 the download interval in minutes: the
// values public GXP/GRP provisioning templates write.
//
// Sources: ../../../../shared/reference/provisioning.md §4. Not rendered,
// with a warning: phone line keys other than the line itself and BLF keys
// (the MPK/VPK codes for DTMF keys are not verified). BLF keys are
// written as multi-purpose keys (blfKey).
//
// Every key here that no vendor documentation confirms is listed, with its
// source, in provision.Unverified (docs/unverified-keys.md).
package grandstream

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/ir"
	"switchboard/compiler/provision/devfile"
)

// Vendor is the vendor name of devices this package renders.
const Vendor = "grandstream"

// Models lists the catalogue models this renderer writes, sorted: every
// Grandstream model of the catalogue. What a model can do (kind, relays,
// line keys) comes from the catalogue: door stations get the GDS document,
// everything else the desk-phone document.
func Models() []string {
	var out []string
	for _, m := range catalogue.Models() {
		if m.Vendor.ID == Vendor {
			out = append(out, m.ID)
		}
	}
	return out
}

// Path is the file name a Grandstream device fetches for a MAC.
func Path(mac string) string { return "cfg" + mac + ".xml" }

// Vendor limits of the GDS P-value set.
const (
	// maxHold is the longest unlock hold time the GDS accepts, in seconds.
	maxHold = 20
	// maxDoors is how many doors have a remote PIN and a hold time (door 1
	// P10457/P14101, door 2 P15460/P15466).
	maxDoors = 2
)

// Render writes one cfg<mac>.xml per device.
func Render(p *ir.Program, devices []*ir.Device, pw devfile.Passwords) ([]devfile.File, []devfile.Warning) {
	var files []devfile.File
	var warns []devfile.Warning
	for _, d := range devices {
		w := &warner{d: d}
		m, known := devfile.Lookup(d)
		if !known {
			w.shared("model", "The device catalogue has no model %q; it is written as a %s and its line keys are not checked.", d.Model, map[bool]string{true: "GDS door system", false: "GXP/GRP phone"}[d.Kind == ir.DoorStation])
		}
		var data []byte
		switch m.Kind {
		case catalogue.DoorStation:
			if d.Kind != ir.DoorStation {
				w.shared("device kind", "Model %q is a door system, but the device is used as a %s.", d.Model, devfile.CatalogueKind(d.Kind))
			}
			data = doorSystem(p, d, pw, w)
		default:
			if d.Kind != ir.Phone {
				w.shared("device kind", "Model %q is a %s and is written as a desk phone, but the device is used as a %s.", d.Model, m.Kind, devfile.CatalogueKind(d.Kind))
			}
			var book *devfile.File
			data, book = deskPhone(p, d, m, pw, w)
			if book != nil {
				files = append(files, *book)
			}
		}
		files = append(files, devfile.File{Path: Path(d.MAC), Mode: devfile.ModeSecret, Data: data, Device: d.Name, Vendor: Vendor})
		warns = append(warns, w.warns...)
	}
	return files, warns
}

// warner collects the warnings about one device.
type warner struct {
	d     *ir.Device
	warns []devfile.Warning
}

// one warns about this device's own values.
func (w *warner) one(feature string, o ir.Origin, format string, args ...any) {
	w.warns = append(w.warns, devfile.Warn(w.d, feature, o, format, args...))
}

// shared warns about something all devices of the model share.
func (w *warner) shared(feature string, format string, args ...any) {
	w.warns = append(w.warns, devfile.WarnShared(w.d, feature, format, args...))
}

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
	return hostPort(d.SIP.Server, d.SIP.Port)
}

func hostPort(host string, port int) string {
	if port == 5060 {
		return host
	}
	return host + ":" + strconv.Itoa(port)
}

// secondary sets the secondary SIP server (P2312 on phones, P2412 on
// GDS) to the site's second node, written as the primary is; a third
// node has no field: the check pass warns (catalogue Vendor.SIPServers).
func secondary(v pvals, key int, d *ir.Device) {
	if len(d.SIP.Backup) > 0 {
		v[key] = hostPort(d.SIP.Backup[0].Server, d.SIP.Backup[0].Port)
	}
}

// minutes rounds a registration expiry up to whole minutes, at least one.
func minutes(d ir.Duration) string {
	return strconv.Itoa(max(1, (d.Seconds()+59)/60))
}

var transports = map[string]string{"udp": "0", "tcp": "1", "tls": "2"}

func deskPhone(p *ir.Program, d *ir.Device, m *catalogue.Model, pw devfile.Passwords, w *warner) ([]byte, *devfile.File) {
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
	secondary(v, 2312, d)
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
			w.shared("time zone", "Time zone %q is not known: %v; the phone keeps its own setting.", tz, err)
		} else {
			v[64] = z.POSIX()
		}
	}
	mpk := 0
	for _, k := range d.LineKeys {
		switch {
		case k.Index > m.LineKeys:
			w.one(fmt.Sprintf("line key %d", k.Index), k.Origin, "Model %q has %d line keys; key %d (%s %q) is not configured.", d.Model, m.LineKeys, k.Index, k.Type, k.Label)
		case k.Type == ir.KeyBLF:
			mpk++
			blfKey(v, mpk, k)
		case k.Type != ir.KeyLine:
			// Lowering gives every phone of a residence with a door the
			// same keys, so nothing here is particular to the device.
			w.shared(fmt.Sprintf("line key %d", k.Index), "Grandstream %s keys are not rendered (their key codes are not verified); set key %d (%q, value %q) on the phone.", k.Type, k.Index, k.Label, k.Value)
		}
	}
	if mpk > 0 && !m.BLF {
		// Wazo writes the P23000 block for the GXP21xx; for the GRP26xx
		// it writes the newer alias format (pks.vpk.N.*) instead.
		w.shared("BLF keys", "Grandstream BLF keys are written as multi-purpose keys (P23000…), as for the GXP21xx; on the %s they are not verified: check the %d BLF key(s) on the phone.", m.Name, mpk)
	}
	var book *devfile.File
	if len(d.Contacts) > 0 {
		scheme, rest, ok := strings.Cut(p.Site.ProvisionURL, "://")
		switch {
		case p.Site.ProvisionURL == "":
			w.shared("directory", "The site has no provisioning URL (build -provision-url), so the phone cannot be pointed at its phone book; the phone book is not written.")
		case !ok || (scheme != "http" && scheme != "https"):
			w.shared("directory", "The provisioning URL %q is not http or https, the only ways a Grandstream phone downloads its phone book; the phone book is not written.", p.Site.ProvisionURL)
		default:
			// The phone downloads <P331>/phonebook.xml every P332 minutes
			// over HTTP (P330 1) or HTTPS (P330 3); P331 is written
			// without the scheme.
			v[330] = map[string]string{"http": "1", "https": "3"}[scheme]
			v[331] = strings.TrimSuffix(rest, "/") + "/" + PhonebookDir(d.MAC)
			v[332] = strconv.Itoa(phonebookInterval)
			book = &devfile.File{Path: PhonebookPath(d.MAC), Mode: devfile.ModePublic, Data: phonebook(d), Device: d.Name, Vendor: Vendor}
		}
	}
	root := devfile.E("gs_provision", devfile.E("config", v.elems()...).WithAttr("version", "1")).WithAttr("version", "1")
	return devfile.XMLDocument(root), book
}

// phonebookInterval is how often, in minutes, a phone downloads its phone
// book: a renamed person shows within the hour even without a resync.
const phonebookInterval = 60

// PhonebookDir is the directory, under the provisioning URL, of a phone's
// phone book.
func PhonebookDir(mac string) string { return "gs" + mac }

// PhonebookPath is a phone's phone-book file: the phone asks for
// phonebook.xml under the path P331 gives it.
func PhonebookPath(mac string) string { return PhonebookDir(mac) + "/phonebook.xml" }

// phonebook writes the AddressBook document (FusionPBX's GRP261x template
// layout): one Contact per entry, the name as first and last name, the
// number dialled on account 1 (accountindex 0).
func phonebook(d *ir.Device) []byte {
	root := devfile.E("AddressBook")
	for i, c := range d.Contacts {
		first, last := splitName(devfile.OneLine(c.Name))
		root.Add(devfile.E("Contact",
			devfile.T("id", strconv.Itoa(i+1)),
			devfile.T("FirstName", first),
			devfile.T("LastName", last),
			devfile.E("Phone", devfile.T("phonenumber", c.Number), devfile.T("accountindex", "0")).WithAttr("type", "Work"),
		))
	}
	return devfile.XMLDocument(root)
}

// blfKey writes BLF key k as the n-th multi-purpose key (1-based), in the
// MPK block of P-values that starts at P23000, five per key: key mode
// (1 = BLF), account (0 = the phone's first), label, value (the
// extension watched). Source: Wazo's Grandstream plugin,
// plugins/wazo-grandstream/common/common.py (_add_mpk, FUNCKEY_TYPES
// "blf": 1), wazo-platform/wazo-provd-plugins; see
// ../../../../shared/reference/provisioning.md §4.2 ("MPK block starting at
// P23000, 5 P-values per key"). The fifth P-value of each key is not
// written: Wazo leaves it unset.
func blfKey(v pvals, n int, k ir.LineKey) {
	base := 23000 + (n-1)*5
	v[base] = "1"
	v[base+1] = "0"
	v[base+2] = k.Label
	v[base+3] = k.Value
}

// splitName splits a display name at its last space: "Mary Byrne" is Mary
// and Byrne; a single word is a first name.
func splitName(name string) (first, last string) {
	if i := strings.LastIndexByte(name, ' '); i > 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// doorSystem writes a GDS document. Catalogue counts are advisory (the
// check pass warns about a relay beyond them), so what the GDS P-value set
// has room for is written: one doorbell number and two doors.
func doorSystem(p *ir.Program, d *ir.Device, pw devfile.Passwords, w *warner) []byte {
	acct := p.Account(d.Account)

	dateTime := pvals{}
	if len(p.Site.NTP) > 0 {
		dateTime[5006] = "1"
		dateTime[30] = p.Site.NTP[0]
	}
	if tz := cmp.Or(d.Timezone, p.Site.Timezone); tz != "" {
		w.shared("time zone", "The GDS time-zone setting (P64) takes a value whose format is not verified, so time zone %q is not written; set it on the device.", tz)
	}

	basic := pvals{
		407: devfile.Label(d),
		402: server(d),
		404: acct.Username,
		405: acct.AuthName,
		406: pw.SIPPassword(*acct),
	}
	secondary(basic, 2412, d)
	advanced := pvals{
		412:  minutes(d.SIP.Expiry),
		448:  transports[d.SIP.Transport],
		2402: "1",
		2403: "0",
	}

	door := pvals{}
	// The doorbell calls one number: the first button's. A keypad needs no
	// setting (the check pass warns when the model has none).
	for i, b := range d.Buttons {
		if i > 0 {
			w.one("button "+b.Label, b.Origin, "A GDS doorbell calls one number, that of button %q; button %q (position %d) cannot be wired. Visitors can still key %q.", d.Buttons[0].Label, b.Label, b.Index, b.Dial)
			continue
		}
		door[14827] = "0" // doorbell calls
		door[14856] = "1" // a SIP number
		door[10462] = b.Dial
	}
	pin := map[int]int{1: 10457, 2: 15460}
	hold := map[int]int{1: 14101, 2: 15466}
	for _, r := range d.Relays {
		if r.Index > maxDoors {
			w.one("relay "+r.Name, r.Origin, "GDS door systems configure at most %d doors; relay %q (relay %d) cannot be configured.", maxDoors, r.Name, r.Index)
			continue
		}
		if strings.Trim(r.DTMF, "0123456789") != "" {
			w.one("relay "+r.Name, r.Origin, "The GDS remote PIN of relay %q is %q; PINs with * or # are not verified to work.", r.Name, r.DTMF)
		}
		secs := r.Hold.Seconds()
		if secs > maxHold {
			w.one("relay "+r.Name, r.Origin, "The GDS holds a door open for at most %d seconds; relay %q asks for %d.", maxHold, r.Name, secs)
			secs = maxHold
		}
		door[14858] = "1"
		door[pin[r.Index]] = r.DTMF
		door[hold[r.Index]] = strconv.Itoa(secs)
	}
	if len(d.LineKeys) > 0 || len(d.Contacts) > 0 {
		w.shared("phone features", "GDS door systems have no line keys or directory; they are ignored.")
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
				return fmt.Errorf("the P-value P%d is given twice", n)
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
