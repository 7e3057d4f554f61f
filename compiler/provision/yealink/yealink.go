// Package yealink renders provisioning files for Yealink desk phones
// (T3x/T4x/T5x/T7x, firmware v80 and later):
//
//	y000000000000.boot   common boot file: includes the common file of every
//	                     model on the site (no secrets)
//	<mac>.boot           per-phone boot file: its model's common file, then
//	                     its own <mac>.cfg
//	y0000000000XX.cfg    common file per firmware model code XX (96 for
//	                     T53/T54W/T57W, 108 for T4xU, …): site-wide settings
//	<mac>.cfg            per-phone settings, with the SIP password (0600)
//	<mac>-directory.xml  the phone's directory, fetched as remote phone book
//
// Every .cfg and .boot file starts with "#!version:1.0.0.1"; settings are
// "key = value" lines in natural key order. Boot files list
// `include:config "<file>"` lines and overwrite_mode = 1 so that a setting
// removed from the site reverts to its default.
//
// Key names, values and model codes come from FusionPBX's and Wazo's
// current Yealink templates (see ../../../../shared/reference/provisioning.md
// §3): account.1.{enable,label,display_name,user_name,auth_name,password},
// account.1.sip_server.1.{address,port,transport_type (0 UDP, 1 TCP, 2 TLS),
// expires} (and sip_server.2.* the same, the backup server: the site's
// second node), account.1.dtmf.type (1 = RFC 2833), voice_mail.number.1,
// linekey.N.{type,line,value,label} (15 line, 13 speed dial, 16 BLF,
// 11 DTMF; a BLF key's value is the extension it watches, subscribed to
// with the dialog event package, its label the person's name: §3.3), local_time.{ntp_server1,ntp_server2,time_zone,summer_time,
// dst_time_type,start_time,end_time,offset_time} (Wazo's rule format:
// month/week/weekday/hour, Monday = 1), remote_phonebook.data.1.{url,name},
// features.remote_phonebook.enable, sip.notify_reboot_enable (0: reboot on
// check-sync only when asked). The directory XML is
// <YealinkIPPhoneDirectory><DirectoryEntry><Name/><Telephone/>.
//
// Every key here that no vendor documentation confirms is listed, with its
// source, in provision.Unverified (docs/unverified-keys.md).
package yealink

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"switchboard/compiler/ir"
	"switchboard/compiler/provision/devfile"
)

// Vendor is the vendor name of devices this package renders.
const Vendor = "yealink"

// Header is the first line every Yealink configuration file must have.
const Header = "#!version:1.0.0.1"

// CommonBoot is the common boot file's name.
const CommonBoot = "y000000000000.boot"

// codes are the firmware model codes (y0000000000XX.cfg), from Wazo's
// MODEL_INFO firmware versions and FusionPBX's common-file names, keyed by
// catalogue ID. Every Yealink model of the catalogue has one (a test keeps
// it so); siblings not yet in the catalogue are listed too. What a model
// can do (line keys, kind) comes from the catalogue, not from here.
var codes = map[string]int{
	"yealink-t53": 96, "yealink-t53w": 96, "yealink-t54w": 96, "yealink-t57w": 96,
	"yealink-t41u": 108, "yealink-t42u": 108, "yealink-t43u": 108, "yealink-t46u": 108, "yealink-t48u": 108,
	"yealink-t41s": 66, "yealink-t42s": 66, "yealink-t46s": 66, "yealink-t48s": 66,
	"yealink-t27g": 69,
	"yealink-t30":  124, "yealink-t30p": 124, "yealink-t31": 124, "yealink-t31g": 124, "yealink-t31p": 124, "yealink-t33g": 124, "yealink-t33p": 124,
	"yealink-t58": 58, "yealink-t58w": 150,
	"yealink-t73u": 185, "yealink-t74u": 185, "yealink-t77u": 185, "yealink-t85w": 185, "yealink-t87w": 185,
	"yealink-cp920": 78,
}

// Models lists the models this renderer has a firmware code for, sorted.
func Models() []string { return slices.Sorted(maps.Keys(codes)) }

// CommonFile is the name of the common file for a firmware model code.
func CommonFile(code int) string { return fmt.Sprintf("y%012d.cfg", code) }

// Path is the per-phone file name of a MAC.
func Path(mac string) string { return mac + ".cfg" }

// BootPath is the per-phone boot file name of a MAC.
func BootPath(mac string) string { return mac + ".boot" }

// DirectoryPath is the phone-book file name of a MAC.
func DirectoryPath(mac string) string { return mac + "-directory.xml" }

// Render writes the boot files, one common file per model code in use, and
// each phone's files.
func Render(p *ir.Program, devices []*ir.Device, pw devfile.Passwords) ([]devfile.File, []devfile.Warning) {
	var files []devfile.File
	var warns []devfile.Warning
	codes := map[int]bool{}
	for _, d := range devices {
		fs, ws, code := renderDevice(p, d, pw)
		files = append(files, fs...)
		warns = append(warns, ws...)
		if code > 0 {
			codes[code] = true
		}
	}
	if len(devices) == 0 {
		return nil, nil
	}
	var used []int
	for c := range codes {
		used = append(used, c)
	}
	slices.Sort(used)
	boot := []string{Header}
	for _, c := range used {
		boot = append(boot, includeLine(CommonFile(c)))
		files = append(files, devfile.File{Path: CommonFile(c), Mode: devfile.ModePublic, Data: common(p), Vendor: Vendor})
	}
	boot = append(boot, "overwrite_mode = 1")
	files = append(files, devfile.File{Path: CommonBoot, Mode: devfile.ModePublic, Data: lines(boot), Vendor: Vendor})
	return files, warns
}

func includeLine(file string) string { return `include:config "` + file + `"` }

func lines(ls []string) []byte { return []byte(strings.Join(ls, "\n") + "\n") }

// common is the site-wide part, identical for every model.
func common(p *ir.Program) []byte {
	f := devfile.NewKVFile(Header)
	f.Set("sip.notify_reboot_enable", "0")
	timeSettings(f, p, p.Site.Timezone, nil)
	return f.Bytes()
}

// warner collects the warnings about one device; a nil warner drops them
// (the common file, which belongs to no device).
type warner struct {
	d     *ir.Device
	warns []devfile.Warning
}

// one warns about this device's own values.
func (w *warner) one(feature string, o ir.Origin, format string, args ...any) {
	if w != nil {
		w.warns = append(w.warns, devfile.Warn(w.d, feature, o, format, args...))
	}
}

// shared warns about something all devices of the model share.
func (w *warner) shared(feature string, format string, args ...any) {
	if w != nil {
		w.warns = append(w.warns, devfile.WarnShared(w.d, feature, format, args...))
	}
}

func timeSettings(f *devfile.KVFile, p *ir.Program, tz string, w *warner) {
	for i, s := range p.Site.NTP {
		if i >= 2 {
			w.shared("NTP servers", "Yealink phones take two NTP servers; %s and later are not written.", strings.Join(p.Site.NTP[2:], ", "))
			break
		}
		f.Set(fmt.Sprintf("local_time.ntp_server%d", i+1), s)
	}
	if tz == "" {
		return
	}
	z, err := devfile.LoadZone(tz)
	if err != nil {
		w.shared("time zone", "Time zone %q is not known: %v; the phone keeps its own setting.", tz, err)
		return
	}
	f.Set("local_time.time_zone", zoneOffset(z.StdOffset))
	if z.DST == nil {
		f.Set("local_time.summer_time", "0")
		return
	}
	f.Set("local_time.summer_time", "1")
	f.Set("local_time.dst_time_type", "1")
	f.Set("local_time.start_time", rule(z.DST.Start))
	f.Set("local_time.end_time", rule(z.DST.End))
	f.Set("local_time.offset_time", strconv.Itoa(z.DST.Save(z.StdOffset)/60))
}

// zoneOffset writes an offset in hours as Yealink's time_zone expects:
// "+1", "-5", "+0"; zones off the hour as "+5:30". Clamped to -11…+12.
func zoneOffset(sec int) string {
	sec = max(-11*3600, min(12*3600, sec))
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	if m := sec % 3600 / 60; m != 0 {
		return fmt.Sprintf("%s%d:%02d", sign, sec/3600, m)
	}
	return fmt.Sprintf("%s%d", sign, sec/3600)
}

// rule writes a transition as month/week/weekday/hour, Monday = 1 … Sunday
// = 7, week 5 = last.
func rule(t devfile.Transition) string {
	wd := int(t.Weekday)
	if wd == 0 {
		wd = 7
	}
	return fmt.Sprintf("%d/%d/%d/%d", int(t.Month), t.Week, wd, t.Time/3600)
}

var keyTypes = map[ir.LineKeyType]string{
	ir.KeyLine:      "15",
	ir.KeySpeedDial: "13",
	ir.KeyBLF:       "16",
	ir.KeyDTMF:      "11",
}

func renderDevice(p *ir.Program, d *ir.Device, pw devfile.Passwords) ([]devfile.File, []devfile.Warning, int) {
	w := &warner{d: d}
	m, known := devfile.Lookup(d)
	code, coded := codes[d.Model]
	if !known {
		w.shared("model", "The device catalogue has no model %q, so its line keys are not checked.", d.Model)
	}
	if !coded {
		w.shared("common file", "The Yealink renderer has no firmware code for model %q, so the phone gets no common file; its own file carries every setting it needs.", d.Model)
	}
	if d.Kind != ir.Phone {
		w.shared("device kind", "Yealink devices are desk phones; a %s gets a phone's configuration.", devfile.CatalogueKind(d.Kind))
	}

	acct := p.Account(d.Account)
	f := devfile.NewKVFile(Header)
	const a = "account.1."
	label := acct.DisplayName
	for _, k := range d.LineKeys {
		if k.Type == ir.KeyLine && k.Label != "" {
			label = k.Label
			break
		}
	}
	if label == "" {
		label = acct.Username
	}
	f.Set(a+"enable", "1")
	f.Set(a+"label", label)
	f.Set(a+"display_name", acct.DisplayName)
	f.Set(a+"user_name", acct.Username)
	f.Set(a+"auth_name", acct.AuthName)
	f.Set(a+"password", pw.SIPPassword(*acct))
	// Server 1 is the site's first node; server 2, the phone's backup
	// (reference §3 "`.2.*` backup"), its second. A third node has no
	// field: the check pass warns (catalogue Vendor.SIPServers).
	servers := append([]ir.SIPServer{{Server: d.SIP.Server, Port: d.SIP.Port}}, d.SIP.Backup...)
	for i, s := range servers[:min(len(servers), 2)] {
		n := a + "sip_server." + strconv.Itoa(i+1) + "."
		f.Set(n+"address", s.Server)
		f.Set(n+"port", strconv.Itoa(s.Port))
		f.Set(n+"transport_type", map[string]string{"udp": "0", "tcp": "1", "tls": "2"}[d.SIP.Transport])
		f.Set(n+"expires", strconv.Itoa(d.SIP.Expiry.Seconds()))
	}
	f.Set(a+"dtmf.type", "1")
	if u := p.User(d.User); u != nil && u.Mailbox != "" {
		if vm := p.VoicemailAccess(); vm != "" {
			f.Set("voice_mail.number.1", vm)
		}
	}
	f.Set("sip.notify_reboot_enable", "0")

	for _, k := range d.LineKeys {
		if k.Index > m.LineKeys {
			w.one(fmt.Sprintf("line key %d", k.Index), k.Origin, "Model %q has %d line keys; key %d (%s %q) is not configured.", d.Model, m.LineKeys, k.Index, k.Type, k.Label)
			continue
		}
		if k.Type == ir.KeyDTMF && !devfile.IsDTMF(k.Value) {
			w.one(fmt.Sprintf("line key %d", k.Index), k.Origin, "DTMF key %d sends %q; Yealink DTMF keys send only 0-9, * and #.", k.Index, k.Value)
		}
		lk := fmt.Sprintf("linekey.%d.", k.Index)
		value := k.Value
		if k.Type == ir.KeyLine && value == "" {
			value = acct.Username
		}
		f.Set(lk+"type", keyTypes[k.Type])
		f.Set(lk+"line", "1")
		f.Set(lk+"value", value)
		f.Set(lk+"label", k.Label)
	}

	tz := d.Timezone
	if tz == "" {
		tz = p.Site.Timezone
	}
	timeSettings(f, p, tz, w)

	files := []devfile.File{}
	if len(d.Contacts) > 0 {
		if p.Site.ProvisionURL == "" {
			w.shared("directory", "The site has no provisioning URL (build -provision-url), so the phone cannot be pointed at its directory; the directory file is not written.")
		} else {
			f.Set("features.remote_phonebook.enable", "1")
			f.Set("remote_phonebook.data.1.url", p.Site.ProvisionURL+DirectoryPath(d.MAC))
			name := p.Site.DisplayName
			if name == "" {
				name = "Directory"
			}
			f.Set("remote_phonebook.data.1.name", name)
			files = append(files, devfile.File{Path: DirectoryPath(d.MAC), Mode: devfile.ModePublic, Data: directory(d), Device: d.Name, Vendor: Vendor})
		}
	}
	files = append(files, devfile.File{Path: Path(d.MAC), Mode: devfile.ModeSecret, Data: f.Bytes(), Device: d.Name, Vendor: Vendor})

	boot := []string{Header}
	if coded {
		boot = append(boot, includeLine(CommonFile(code)))
	}
	boot = append(boot, includeLine(Path(d.MAC)), "overwrite_mode = 1")
	files = append(files, devfile.File{Path: BootPath(d.MAC), Mode: devfile.ModePublic, Data: lines(boot), Device: d.Name, Vendor: Vendor})
	return files, w.warns, code
}

func directory(d *ir.Device) []byte {
	root := devfile.E("YealinkIPPhoneDirectory")
	for _, c := range d.Contacts {
		root.Add(devfile.E("DirectoryEntry", devfile.T("Name", c.Name), devfile.T("Telephone", c.Number)))
	}
	return devfile.XMLDocument(root)
}

// Config is a Yealink configuration or boot file read back.
type Config struct {
	Includes []string     // include:config targets, in order
	Settings []devfile.KV // key = value lines, in order
}

// Parse reads a .cfg or .boot file: the "#!version:1.0.0.1" first line,
// then comments ("#"), include:config "<file>" lines and key = value lines.
func Parse(data []byte) (*Config, error) {
	s := string(data)
	first, rest, _ := strings.Cut(s, "\n")
	if strings.TrimSuffix(first, "\r") != Header {
		return nil, fmt.Errorf("first line is %q, want %q", first, Header)
	}
	c := &Config{}
	var kvLines []string
	for n, line := range strings.Split(rest, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "include:config") {
			arg := strings.TrimSpace(strings.TrimPrefix(t, "include:config"))
			file, err := strconv.Unquote(arg)
			if err != nil || file == "" {
				return nil, fmt.Errorf("line %d: malformed include %q", n+2, t)
			}
			c.Includes = append(c.Includes, file)
			kvLines = append(kvLines, "")
			continue
		}
		kvLines = append(kvLines, line)
	}
	kvs, err := devfile.ParseKV([]byte(strings.Join(kvLines, "\n")), func(l string) bool { return l[0] == '#' })
	if err != nil {
		var pe *devfile.ParseError
		if errors.As(err, &pe) {
			pe.Line++ // the header line
		}
		return nil, err
	}
	c.Settings = kvs
	return c, nil
}
