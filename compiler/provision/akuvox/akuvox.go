// Package akuvox renders AutoP files for Akuvox door stations and indoor
// monitors: one plain-text "Config.<Module>.<Section>.<Field> = value" file
// per device, named <mac>.cfg (12 lower-case hex digits). The same key
// namespace is what the device's local HTTP API (/api/config/get|set)
// reads and writes, so these keys also drive a live `apply`.
//
// Key names and values, and where they come from (see
// ../../../../shared/reference/provisioning.md §2 for the sources):
//
//   - SIP account (Config.Account1.GENERAL.{Enable,Label,DisplayName,
//     UserName,AuthName,Pwd}, .SIP.{Server,Port,Server2,Port2,TransType},
//     .REG.Timeout),
//     Config.Settings.GENERAL.DirectIP, Config.Settings.SNTP.{Enable,
//     TimeZone,Name,NTPServer1,NTPServer2}, Config.DoorSetting.DTMF.{Enable,
//     Code1…Code4}, Config.DoorSetting.DEVICENODE.Location,
//     Config.Programable.SOFTKEY01.LocalParam1 ("number;" list padded to
//     eight entries), Config.DoorSetting.RELAY.RelayADelay: read in
//     SmartYard's production Akuvox driver.
//   - Config.DoorSetting.RELAY.HoldDelayA…D, Config.DoorSetting.DTMF.Option,
//     Config.DoorSetting.DISPLAY.Key<n>{Type,Label,Number,NameDisplay}
//     (Type 5 speed dial, 6 disabled): pyakuvox's audited X916 map;
//     HoldDelayA also live-read on an E18 by pylocal-akuvox.
//   - SIP.TransType: 0 = UDP is verified; 1 = TCP and 2 = TLS are
//     unverified, so a device using them gets a warning.
//   - DTMF.Type: see dtmfRFC2833.
//   - Time zone: "GMT+h:mm" (standard offset) plus the city part of the IANA
//     name, as SmartYard writes them; the device applies daylight saving
//     from the city (unverified, no DST rule is written).
//
// Indoor monitors: the remote-relay unlock code is UnlockKey; their
// contacts are not AutoP keys, so they go in a second file, <mac>-contacts.json
// (ContactsPath), which apply pushes through the contact API and reads back.
//
// Not written: the AutoP common file (name unverified), AES encryption
// (scheme unverified).
//
// What a model can do (kind, buttons, keypad, relays) is the catalogue's
// (compiler/catalogue); this package keeps how each firmware family spells
// its keys (keyMaps) and the limits of the key namespace itself (relays A
// to D, six homepage keys).
//
// Every key here that no vendor documentation confirms is listed, with its
// source, in provision.Unverified (docs/unverified-keys.md).
package akuvox

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/ir"
	"switchboard/compiler/provision/devfile"
)

// Vendor is the vendor name of devices this package renders.
const Vendor = "akuvox"

// dtmfRFC2833 is the value of Config.Account1.DTMF.Type that makes the
// device use RFC 2833 telephone events. Sources disagree: SmartYard's
// production driver for the S532 door station writes 2 ("accept only
// RFC2833"), a public generator for Akuvox desk phones (R67G/R55G) writes 1
// ("RFC2833"). We follow the door-station source; check it on hardware.
const dtmfRFC2833 = "2"

// Models' capabilities (kind, call buttons, keypad, relays) come from the
// device catalogue (devfile.Lookup). What stays here is how each firmware
// family spells its keys.

// relayKeys is which relay hold-time keys a firmware family uses.
type relayKeys int

const (
	// relayDelay: Config.DoorSetting.RELAY.Relay<L>Delay (R20/E12 family,
	// SmartYard's S532 driver).
	relayDelay relayKeys = iota + 1
	// holdDelay: Config.DoorSetting.RELAY.HoldDelay<L> (X916, E18).
	holdDelay
	// bothDelays: family not verified for the model; both spellings are
	// written and the device ignores the one it does not know.
	bothDelays
)

// buttonKeys is how a firmware family wires call buttons.
type buttonKeys int

const (
	// softKeys: a push button calls the number list of
	// Config.Programable.SOFTKEY<nn>.LocalParam1 (SmartYard).
	softKeys buttonKeys = iota + 1
	// homeKeys: a touch-screen panel shows homepage speed-dial keys
	// Config.DoorSetting.DISPLAY.Key<n>{Type,Label,Number,NameDisplay}
	// (pyakuvox's X916 map), Key1 to Key<maxHomeKeys>.
	homeKeys
)

// keyMap is how one model's firmware spells the keys this renderer writes.
type keyMap struct {
	buttons buttonKeys
	relays  relayKeys
}

// keyMaps has an entry for every Akuvox model of the catalogue (a test
// keeps it so), keyed by catalogue ID. Entries not backed by a source named
// in the package comment are marked [U]: both relay spellings are written
// for them.
var keyMaps = map[string]keyMap{
	"akuvox-e12w": {softKeys, relayDelay},
	"akuvox-e16c": {softKeys, bothDelays}, // [U]
	"akuvox-e18c": {softKeys, holdDelay},  // HoldDelayA read on an E18; button key [U]
	"akuvox-r20a": {softKeys, relayDelay},
	"akuvox-r20k": {softKeys, relayDelay},
	"akuvox-r27a": {softKeys, bothDelays}, // [U]
	"akuvox-r29c": {softKeys, bothDelays}, // [U]
	"akuvox-s532": {softKeys, relayDelay},
	"akuvox-s535": {softKeys, bothDelays}, // [U]
	"akuvox-x915": {homeKeys, holdDelay},  // X916 firmware family (same version line)
	"akuvox-x916": {homeKeys, holdDelay},
	// Indoor monitors: no call buttons or door relays are written.
	"akuvox-c313": {}, "akuvox-c315": {}, "akuvox-c319": {}, "akuvox-x933": {},
}

// genericKeys is used for a model without a key map: push-button keys, and
// both relay spellings.
var genericKeys = keyMap{softKeys, bothDelays}

// Models lists the catalogue models this renderer has a key map for,
// sorted.
func Models() []string { return slices.Sorted(maps.Keys(keyMaps)) }

// Vendor limits of the AutoP key namespace.
const (
	maxRelays   = 4 // DTMF.Code1…Code4, relays A…D
	maxHomeKeys = 6 // DISPLAY.Key1…Key6
)

// Render writes one <mac>.cfg per device.
func Render(p *ir.Program, devices []*ir.Device, pw devfile.Passwords) ([]devfile.File, []devfile.Warning) {
	var files []devfile.File
	var warns []devfile.Warning
	for _, d := range devices {
		fs, w := renderDevice(p, d, pw)
		files = append(files, fs...)
		warns = append(warns, w...)
	}
	return files, warns
}

// Path is the AutoP file name of a MAC.
func Path(mac string) string { return mac + ".cfg" }

// ContactsPath is the name of a device's contact list: the items apply
// pushes through the contact API (/api/contact/*), which holds what no
// AutoP key does. Devices do not fetch it.
func ContactsPath(mac string) string { return mac + "-contacts.json" }

// Contact is one entry of the device's contact list, as the contact API
// takes it (pylocal-akuvox's contact research: Name, Phone, Group; the
// "Default" group is the implicit one).
type Contact struct {
	Name  string `json:"Name"`
	Phone string `json:"Phone"`
	Group string `json:"Group"`
}

// ContactsFile is the contact list file of a device's contacts, in their
// IR order, one JSON array.
func ContactsFile(cs []ir.Contact) []byte {
	items := make([]Contact, 0, len(cs))
	for _, c := range cs {
		items = append(items, Contact{Name: devfile.OneLine(c.Name), Phone: c.Number, Group: "Default"})
	}
	data, err := json.MarshalIndent(items, "", "  ")
	if err != nil {
		panic(err) // strings only
	}
	return append(data, '\n')
}

// ParseContacts reads a contact list file back.
func ParseContacts(data []byte) ([]Contact, error) {
	var out []Contact
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("contact list: %w", err)
	}
	return out, nil
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

func renderDevice(p *ir.Program, d *ir.Device, pw devfile.Passwords) ([]devfile.File, []devfile.Warning) {
	w := &warner{d: d}
	m, known := devfile.Lookup(d)
	km, mapped := keyMaps[d.Model]
	switch {
	case !known:
		w.shared("model", "The device catalogue has no model %q; the file carries the SIP account, time and the features of a generic Akuvox %s, written with push-button keys and both relay hold-time spellings.", d.Model, m.Kind)
		km = genericKeys
	case !mapped:
		w.shared("model", "The Akuvox renderer has no key map for model %q; buttons are written as push-button keys and relay hold times in both spellings. Check them on the device.", d.Model)
		km = genericKeys
	}
	if known && devfile.Kind(m.Kind) != d.Kind {
		w.shared("device kind", "Model %q is a %s, but the device is used as a %s.", d.Model, m.Kind, devfile.CatalogueKind(d.Kind))
	}

	f := devfile.NewKVFile()
	account(f, p, d, pw, w)
	timeSettings(f, p, d, w)
	// Calls go through the PBX only: direct IP calls would bypass routing
	// and the relay policy.
	f.Set("Config.Settings.GENERAL.DirectIP", "0")

	switch d.Kind {
	case ir.DoorStation:
		doorStation(f, d, m, km, w)
	case ir.Monitor:
		monitor(f, d, w)
	}
	if len(d.LineKeys) > 0 {
		w.shared("line keys", "Akuvox devices have no programmable line keys; the profile's line keys are ignored.")
	}
	files := []devfile.File{{Path: Path(d.MAC), Mode: devfile.ModeSecret, Data: f.Bytes(), Device: d.Name, Vendor: Vendor}}
	if d.Kind == ir.Monitor || len(d.Contacts) > 0 {
		// Every monitor gets its list, empty included, so that apply
		// removes the contacts of people who left.
		files = append(files, devfile.File{Path: ContactsPath(d.MAC), Mode: devfile.ModePublic, Data: ContactsFile(d.Contacts), Device: d.Name, Vendor: Vendor})
	}
	return files, w.warns
}

func account(f *devfile.KVFile, p *ir.Program, d *ir.Device, pw devfile.Passwords, w *warner) {
	const a = "Config.Account1."
	acct := p.Account(d.Account)
	label := devfile.Label(d)
	display := label
	if acct.DisplayName != "" {
		display = acct.DisplayName
	}
	f.Set(a+"GENERAL.Enable", "1")
	f.Set(a+"GENERAL.Label", label)
	f.Set(a+"GENERAL.DisplayName", display)
	f.Set(a+"GENERAL.UserName", acct.Username)
	f.Set(a+"GENERAL.AuthName", acct.AuthName)
	f.Set(a+"GENERAL.Pwd", pw.SIPPassword(*acct))
	f.Set(a+"SIP.Server", d.SIP.Server)
	f.Set(a+"SIP.Port", strconv.Itoa(d.SIP.Port))
	// The backup server (reference §2.3) is the site's second node; a
	// third has no field: the check pass warns (catalogue
	// Vendor.SIPServers).
	if len(d.SIP.Backup) > 0 {
		f.Set(a+"SIP.Server2", d.SIP.Backup[0].Server)
		f.Set(a+"SIP.Port2", strconv.Itoa(d.SIP.Backup[0].Port))
	}
	switch d.SIP.Transport {
	case "udp":
		f.Set(a+"SIP.TransType", "0")
	case "tcp":
		f.Set(a+"SIP.TransType", "1")
		w.shared("SIP transport tcp", "Config.Account1.SIP.TransType = 1 for TCP is not verified for Akuvox firmware; check the registration on the device.")
	case "tls":
		f.Set(a+"SIP.TransType", "2")
		w.shared("SIP transport tls", "Config.Account1.SIP.TransType = 2 for TLS is not verified for Akuvox firmware; check the registration on the device.")
	}
	f.Set(a+"REG.Timeout", strconv.Itoa(d.SIP.Expiry.Seconds()))
	f.Set(a+"DTMF.Type", dtmfRFC2833)
}

func timeSettings(f *devfile.KVFile, p *ir.Program, d *ir.Device, w *warner) {
	if ntp := p.Site.NTP; len(ntp) > 0 {
		f.Set("Config.Settings.SNTP.Enable", "1")
		f.Set("Config.Settings.SNTP.NTPServer1", ntp[0])
		if len(ntp) > 1 {
			f.Set("Config.Settings.SNTP.NTPServer2", ntp[1])
		}
		if len(ntp) > 2 {
			w.shared("NTP servers", "Akuvox devices take two NTP servers; %s and later are not written.", strings.Join(ntp[2:], ", "))
		}
	}
	tz := d.Timezone
	if tz == "" {
		tz = p.Site.Timezone
	}
	if tz == "" {
		return
	}
	z, err := devfile.LoadZone(tz)
	if err != nil {
		w.shared("time zone", "Time zone %q is not known: %v; the device keeps its own setting.", tz, err)
		return
	}
	f.Set("Config.Settings.SNTP.TimeZone", "GMT"+devfile.GMTOffset(z.StdOffset))
	f.Set("Config.Settings.SNTP.Name", devfile.ZoneCity(tz))
}

// doorStation writes call buttons and relays. Catalogue counts are advisory
// (the check pass warns about a button or relay beyond them, and firmware
// and hardware revisions differ), so everything the AutoP key namespace
// has room for is written; only what it has no key for is left out, with a
// warning.
func doorStation(f *devfile.KVFile, d *ir.Device, m *catalogue.Model, km keyMap, w *warner) {
	f.Set("Config.DoorSetting.DEVICENODE.Location", devfile.Label(d))

	switch km.buttons {
	case homeKeys:
		// Every homepage key the panel shows is written, disabled unless a
		// button uses it, so that a key removed from the site goes away.
		for i := 1; i <= min(max(m.Buttons, 1), maxHomeKeys); i++ {
			k := fmt.Sprintf("Config.DoorSetting.DISPLAY.Key%d", i)
			f.Set(k+"Type", "6")
			f.Set(k+"Label", "")
			f.Set(k+"Number", "")
			f.Set(k+"NameDisplay", "0")
		}
		for _, b := range d.Buttons {
			if b.Index > maxHomeKeys {
				w.one("button "+b.Label, b.Origin, "Akuvox touch panels show %d homepage keys; button %q (position %d) is not shown. Visitors can still key %q.", maxHomeKeys, b.Label, b.Index, b.Dial)
				continue
			}
			k := fmt.Sprintf("Config.DoorSetting.DISPLAY.Key%d", b.Index)
			f.Set(k+"Type", "5")
			f.Set(k+"Label", b.Label)
			f.Set(k+"Number", b.Dial)
			f.Set(k+"NameDisplay", "1")
		}
	default:
		for _, b := range d.Buttons {
			// A button calls up to eight numbers at once; we give it one, the
			// entry code, and let the PBX fork the call.
			list := []string{b.Dial, "", "", "", "", "", "", ""}
			f.Set(fmt.Sprintf("Config.Programable.SOFTKEY%02d.LocalParam1", b.Index), strings.Join(list, ";"))
		}
	}
	// A keypad needs no setting: the panel dials what the visitor keys, and
	// the PBX routes it (the check pass warns when the model has none).

	// Relays: the device opens relay L when it receives Code<n> in a call;
	// the PBX forwards a code only from callers allowed by the relay's
	// trigger policy.
	if len(d.Relays) == 0 {
		return
	}
	f.Set("Config.DoorSetting.DTMF.Enable", "1")
	single := true
	for _, r := range d.Relays {
		if len(r.DTMF) != 1 {
			single = false
		}
	}
	if single {
		f.Set("Config.DoorSetting.DTMF.Option", "0")
	}
	for _, r := range d.Relays {
		if r.Index > maxRelays {
			w.one("relay "+r.Name, r.Origin, "Akuvox AutoP files configure at most %d relays (A to D); relay %q (relay %d) cannot be configured.", maxRelays, r.Name, r.Index)
			continue
		}
		if !devfile.IsDTMF(r.DTMF) {
			w.one("relay "+r.Name, r.Origin, "DTMF code %q of relay %q holds characters other than 0-9, * and #; the device cannot receive it.", r.DTMF, r.Name)
		}
		letter := string(rune('A' + r.Index - 1))
		f.Set(fmt.Sprintf("Config.DoorSetting.DTMF.Code%d", r.Index), r.DTMF)
		hold := strconv.Itoa(r.Hold.Seconds())
		if km.relays == relayDelay || km.relays == bothDelays {
			f.Set("Config.DoorSetting.RELAY.Relay"+letter+"Delay", hold)
		}
		if km.relays == holdDelay || km.relays == bothDelays {
			f.Set("Config.DoorSetting.RELAY.HoldDelay"+letter, hold)
		}
	}
	if !single {
		w.one("DTMF code length", d.Relays[0].Origin, "A relay code longer than one key needs Config.DoorSetting.DTMF.Option set for the code length, whose values are not verified; it is left as the device has it. Check that the codes open the relays.")
	}
}

// UnlockKey is the monitor's remote-relay DTMF code (web UI: Relay >
// Remote Relay > DTMF1 Code): what the monitor sends when the resident taps
// Unlock during a door call. Read in a public copy of the Akuvox
// indoor-monitor web UI's source — its Phone > Relay page (a Vue component)
// maps "Remote Relay / DTMF1 Code" to this key, beside LocalDTMF, Delay1
// and the DTMFCode2/3 of three-code models, and posts them as AutoP keys —
// found through the code search index (its repository is not named there).
// Not yet read back from a monitor of each model, so it is listed in the
// unverified keys (provision.Unverified).
const UnlockKey = "Config.DoorSetting.RELAY.DTMFCode"

func monitor(f *devfile.KVFile, d *ir.Device, w *warner) {
	if d.UnlockDTMF != "" {
		if !devfile.IsDTMF(d.UnlockDTMF) {
			w.shared("unlock code", "The door's relay code %q holds characters other than 0-9, * and #; the monitor cannot send it.", d.UnlockDTMF)
		}
		f.Set(UnlockKey, d.UnlockDTMF)
	}
	if len(d.Relays) > 0 {
		w.one("relays", d.Relays[0].Origin, "Local relays of Akuvox monitors are not configured by this renderer; %d relays are ignored.", len(d.Relays))
	}
}

// Parse reads an AutoP file back. Lines starting with "#" or ";" are
// comments; every setting must be a Config.* key.
func Parse(data []byte) ([]devfile.KV, error) {
	kvs, err := devfile.ParseKV(data, func(l string) bool { return l[0] == '#' || l[0] == ';' })
	if err != nil {
		return nil, err
	}
	for _, kv := range kvs {
		if !strings.HasPrefix(kv.Key, "Config.") {
			return nil, fmt.Errorf("key %q is not a Config.* key", kv.Key)
		}
	}
	return kvs, nil
}
