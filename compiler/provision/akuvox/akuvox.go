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
//     UserName,AuthName,Pwd}, .SIP.{Server,Port,TransType}, .REG.Timeout),
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
// Not written, with a warning where the profile asks for it: monitor
// contacts (not AutoP keys; they go through /api/contact at apply time),
// the monitor's remote-relay unlock code (AutoP key not found), the AutoP
// common file (name unverified), AES encryption (scheme unverified).
package akuvox

import (
	"fmt"
	"strconv"
	"strings"

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

// relayKeys is which relay hold-time keys a firmware family uses.
type relayKeys int

const (
	// relayDelay: Config.DoorSetting.RELAY.Relay<L>Delay (R20/E12 family,
	// SmartYard).
	relayDelay relayKeys = iota + 1
	// holdDelay: Config.DoorSetting.RELAY.HoldDelay<L> (X916, E18).
	holdDelay
	// bothDelays: family not verified for the model; both spellings are
	// written and the device ignores the one it does not know.
	bothDelays
)

// model is what the renderer needs to know about a model. Counts of
// buttons, relays and keypads follow the vendor's product pages and are to
// be verified against the exact hardware variant.
type model struct {
	kind     ir.DeviceKind
	buttons  int  // physical push buttons (SOFTKEY<n>)
	homeKeys int  // touch-screen homepage keys (DISPLAY.Key<n>)
	keypad   bool // visitors can key codes
	relays   int
	relayKey relayKeys
}

var models = map[string]model{
	"r20a":  {kind: ir.DoorStation, buttons: 1, relays: 2, relayKey: relayDelay},
	"r20k":  {kind: ir.DoorStation, buttons: 1, keypad: true, relays: 2, relayKey: relayDelay},
	"e12w":  {kind: ir.DoorStation, buttons: 1, relays: 1, relayKey: relayDelay},
	"r29c":  {kind: ir.DoorStation, buttons: 1, relays: 2, relayKey: bothDelays},
	"e18c":  {kind: ir.DoorStation, keypad: true, relays: 2, relayKey: holdDelay},
	"x915s": {kind: ir.DoorStation, keypad: true, relays: 2, relayKey: holdDelay},
	"x916":  {kind: ir.DoorStation, homeKeys: 6, keypad: true, relays: 4, relayKey: holdDelay},
	"c313":  {kind: ir.Monitor},
	"c315":  {kind: ir.Monitor},
	"c317":  {kind: ir.Monitor},
	"it83":  {kind: ir.Monitor},
}

// Models lists the catalogue model names this renderer knows, sorted.
func Models() []string {
	return []string{"akuvox-c313", "akuvox-c315", "akuvox-c317", "akuvox-e12w", "akuvox-e18c", "akuvox-it83",
		"akuvox-r20a", "akuvox-r20k", "akuvox-r29c", "akuvox-x915s", "akuvox-x916"}
}

// maxRelays is the number of relays the DTMF code keys cover (Code1…Code4).
const maxRelays = 4

// Render writes one <mac>.cfg per device.
func Render(p *ir.Program, devices []*ir.Device, pw devfile.Passwords) ([]devfile.File, []devfile.Warning) {
	var files []devfile.File
	var warns []devfile.Warning
	for _, d := range devices {
		f, w := renderDevice(p, d, pw)
		files = append(files, f)
		warns = append(warns, w...)
	}
	return files, warns
}

// Path is the AutoP file name of a MAC.
func Path(mac string) string { return mac + ".cfg" }

func renderDevice(p *ir.Program, d *ir.Device, pw devfile.Passwords) (devfile.File, []devfile.Warning) {
	var warns []devfile.Warning
	warn := func(feature string, o ir.Origin, format string, args ...any) {
		warns = append(warns, devfile.Warn(d, feature, o, format, args...))
	}
	m, known := models[devfile.Model(d)]
	if !known {
		warn("model", ir.Origin{}, "The Akuvox renderer has no table for model %q; the file carries the SIP account, time and the features of a generic %s, and button, keypad and relay limits are not checked.", d.Model, d.Kind)
		m = model{kind: d.Kind, buttons: len(d.Buttons), keypad: d.Keypad, relays: min(len(d.Relays), maxRelays), relayKey: bothDelays}
	} else if m.kind != d.Kind {
		warn("device kind", ir.Origin{}, "Model %q is a %s, but the device is used as a %s.", d.Model, m.kind, d.Kind)
	}

	f := devfile.NewKVFile()
	account(f, p, d, pw, warn)
	timeSettings(f, p, d, warn)
	// Calls go through the PBX only: direct IP calls would bypass routing
	// and the relay policy.
	f.Set("Config.Settings.GENERAL.DirectIP", "0")

	switch d.Kind {
	case ir.DoorStation:
		doorStation(f, d, m, warn)
	case ir.Monitor:
		monitor(d, warn)
	}
	if len(d.LineKeys) > 0 {
		warn("line keys", d.LineKeys[0].Origin, "Akuvox devices have no programmable line keys; %d line keys are ignored.", len(d.LineKeys))
	}
	return devfile.File{Path: Path(d.MAC), Mode: devfile.ModeSecret, Data: f.Bytes(), Device: d.Name, Vendor: Vendor}, warns
}

type warnFunc func(feature string, o ir.Origin, format string, args ...any)

func account(f *devfile.KVFile, p *ir.Program, d *ir.Device, pw devfile.Passwords, warn warnFunc) {
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
	switch d.SIP.Transport {
	case "udp":
		f.Set(a+"SIP.TransType", "0")
	case "tcp":
		f.Set(a+"SIP.TransType", "1")
		warn("SIP transport tcp", ir.Origin{}, "Config.Account1.SIP.TransType = 1 for TCP is not verified for Akuvox firmware; check the registration on the device.")
	case "tls":
		f.Set(a+"SIP.TransType", "2")
		warn("SIP transport tls", ir.Origin{}, "Config.Account1.SIP.TransType = 2 for TLS is not verified for Akuvox firmware; check the registration on the device.")
	}
	f.Set(a+"REG.Timeout", strconv.Itoa(d.SIP.Expiry.Seconds()))
	f.Set(a+"DTMF.Type", dtmfRFC2833)
}

func timeSettings(f *devfile.KVFile, p *ir.Program, d *ir.Device, warn warnFunc) {
	if ntp := p.Site.NTP; len(ntp) > 0 {
		f.Set("Config.Settings.SNTP.Enable", "1")
		f.Set("Config.Settings.SNTP.NTPServer1", ntp[0])
		if len(ntp) > 1 {
			f.Set("Config.Settings.SNTP.NTPServer2", ntp[1])
		}
		if len(ntp) > 2 {
			warn("NTP servers", p.Site.Origin, "Akuvox devices take two NTP servers; %s and later are not written.", strings.Join(ntp[2:], ", "))
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
		warn("time zone", ir.Origin{}, "Time zone %q is not known: %v; the device keeps its own setting.", tz, err)
		return
	}
	f.Set("Config.Settings.SNTP.TimeZone", "GMT"+devfile.GMTOffset(z.StdOffset))
	f.Set("Config.Settings.SNTP.Name", devfile.ZoneCity(tz))
}

func doorStation(f *devfile.KVFile, d *ir.Device, m model, warn warnFunc) {
	f.Set("Config.DoorSetting.DEVICENODE.Location", devfile.Label(d))

	// Buttons: physical push buttons call the number list of SOFTKEY<n>;
	// touch models show homepage speed-dial keys.
	switch {
	case m.homeKeys > 0:
		for i := 1; i <= m.homeKeys; i++ {
			k := fmt.Sprintf("Config.DoorSetting.DISPLAY.Key%d", i)
			f.Set(k+"Type", "6") // disabled unless a button uses it
			f.Set(k+"Label", "")
			f.Set(k+"Number", "")
			f.Set(k+"NameDisplay", "0")
		}
		for _, b := range d.Buttons {
			if b.Index > m.homeKeys {
				warn("button "+b.Label, b.Origin, "Model %q has %d homepage keys; button %q (position %d) is not shown. Visitors can still key %q.", d.Model, m.homeKeys, b.Label, b.Index, b.Dial)
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
			if b.Index > m.buttons {
				warn("button "+b.Label, b.Origin, "Model %q has %d push button(s); button %q (position %d) cannot be wired.", d.Model, m.buttons, b.Label, b.Index)
				continue
			}
			// A button calls up to eight numbers at once; we give it one, the
			// entry code, and let the PBX fork the call.
			list := []string{b.Dial, "", "", "", "", "", "", ""}
			f.Set(fmt.Sprintf("Config.Programable.SOFTKEY%02d.LocalParam1", b.Index), strings.Join(list, ";"))
		}
	}
	if d.Keypad && !m.keypad {
		warn("keypad", ir.Origin{}, "Model %q has no keypad; visitors can only use its buttons.", d.Model)
	}

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
		if r.Index > m.relays || r.Index > maxRelays {
			warn("relay "+r.Name, r.Origin, "Model %q has %d relay(s); relay %q (relay %d) cannot be configured.", d.Model, m.relays, r.Name, r.Index)
			continue
		}
		if !devfile.IsDTMF(r.DTMF) {
			warn("relay "+r.Name, r.Origin, "DTMF code %q of relay %q holds characters other than 0-9, * and #; the device cannot receive it.", r.DTMF, r.Name)
		}
		letter := string(rune('A' + r.Index - 1))
		f.Set(fmt.Sprintf("Config.DoorSetting.DTMF.Code%d", r.Index), r.DTMF)
		hold := strconv.Itoa(r.Hold.Seconds())
		if m.relayKey == relayDelay || m.relayKey == bothDelays {
			f.Set("Config.DoorSetting.RELAY.Relay"+letter+"Delay", hold)
		}
		if m.relayKey == holdDelay || m.relayKey == bothDelays {
			f.Set("Config.DoorSetting.RELAY.HoldDelay"+letter, hold)
		}
	}
	if !single {
		warn("DTMF code length", d.Relays[0].Origin, "A relay code longer than one key needs Config.DoorSetting.DTMF.Option set for the code length, whose values are not verified; it is left as the device has it. Check that the codes open the relays.")
	}
}

func monitor(d *ir.Device, warn warnFunc) {
	if len(d.Contacts) > 0 {
		warn("contacts", ir.Origin{}, "Akuvox monitor contacts are not AutoP settings; the %d contacts are pushed through the device's HTTP API by `switchboard apply`, not by this file.", len(d.Contacts))
	}
	if d.UnlockDTMF != "" {
		warn("unlock code", ir.Origin{}, "The AutoP key of the monitor's remote-relay DTMF code is not verified, so %q is not written; set Device > Relay > Remote Relay > DTMF Code on the monitor to it.", d.UnlockDTMF)
	}
	if len(d.Relays) > 0 {
		warn("relays", d.Relays[0].Origin, "Local relays of Akuvox monitors are not configured by this renderer; %d relays are ignored.", len(d.Relays))
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
