package provision

import (
	"bytes"
	"fmt"
	"strings"

	"switchboard/compiler/provision/akuvox"
)

// UnverifiedKey is a vendor setting, value or API that switchboard writes
// or reads and that no vendor documentation read so far confirms: its name
// comes from public code or templates, or sources disagree. Each is a thing
// to check on hardware before relying on it.
type UnverifiedKey struct {
	Vendor string
	Key    string // the key, P-value, value or API path
	Use    string // what switchboard does with it
	Source string // where the name comes from
	Check  string // what is not known
}

// Unverified is every such key, in one place: the renderers' and apply's
// comments point here, docs/unverified-keys.md is rendered from it
// (UnverifiedMarkdown), and a test keeps both in step. "reference §n" is
// shared/reference/provisioning.md.
var Unverified = []UnverifiedKey{
	{"akuvox", akuvox.UnlockKey, "indoor monitor: the remote-relay DTMF code sent when the resident taps Unlock",
		"a public copy of the Akuvox indoor-monitor web UI's source, Phone > Relay page (\"Remote Relay / DTMF1 Code\" is this key); repository unnamed by the search index",
		"read back from a monitor of each model (C313, C315, C319, X933); older firmware may use another key"},
	{"akuvox", "/api/contact/get, /api/contact/set (add, del)", "indoor monitor: the contact list apply pushes and reads back",
		"pylocal-akuvox contact research (reference §2.6, §2.7): envelope, fields Name, Phone, Group; ten a page",
		"which monitor models serve it (the IT83 lacks other /api handlers); whether del takes ID"},
	{"akuvox", "Config.Account1.DTMF.Type = 2", "RFC 2833 telephone events",
		"SmartYard's S532 driver writes 2; a generator for R67G/R55G desk phones writes 1 (reference §2.3)",
		"which value means RFC 2833 on each family"},
	{"akuvox", "Config.Account1.SIP.TransType = 1, 2", "SIP over TCP, TLS (a warning is given when used)",
		"reference §2.3: 0 = UDP is read in SmartYard; 1 and 2 are inferred", "the values for TCP and TLS"},
	{"akuvox", "Config.DoorSetting.DTMF.Option", "code length of relay codes (written 0 for one-key codes only)",
		"SmartYard, pyakuvox (reference §2.5)", "the values for 2-4 key codes"},
	{"akuvox", "Config.DoorSetting.RELAY.RelayADelay / HoldDelayA on e16c, r27a, r29c, s535",
		"relay hold time: both spellings are written",
		"SmartYard (R20/E12 family), pyakuvox (X916), pylocal-akuvox (E18) (reference §2.5)", "which spelling each model reads"},
	{"akuvox", "Config.Programable.SOFTKEY01.LocalParam1 on e18c", "the number a push button calls",
		"SmartYard (R20/E12 family)", "the E18's button key"},
	{"akuvox", "Config.Settings.SNTP.TimeZone, SNTP.Name", "time zone as GMT offset plus city; no DST rule is written",
		"SmartYard", "whether the device applies daylight saving from the city"},
	{"akuvox", "AutoP common file name, AES encryption, key casing", "not used: per-device files only, upper-case sections",
		"reference §2.2", "the common file's name, the cipher, whether AutoP ignores case"},
	{"yealink", "GET /servlet?phonecfg=get&accounts=1", "read-back after check-sync and on refresh: the account.* settings",
		"Yealink administrator guide (T2/T4/CP860), Action URI, phone action phonecfg=get",
		"the answer's format (read as key = value lines), the login it takes (digest here), the trusted-IP setting it needs"},
	{"yealink", "linekey.N.type = 11", "desk phone: the in-call \"Open door\" DTMF key",
		"Wazo's templates use type 11 to send *3 in a call (reference §3.3)", "that it sends the value as DTMF"},
	{"grandstream", "P330, P331, P332", "desk phone: phone-book download (1 HTTP, 3 HTTPS), its path without the scheme, interval in minutes",
		"public GXP/GRP provisioning templates", "on each phone family and firmware"},
	{"grandstream", "<AddressBook><Contact><FirstName/><LastName/><Phone><phonenumber/><accountindex/>", "desk phone: the phone book",
		"FusionPBX's GRP261x template (reference §4.2)", "accountindex 0 as account 1; the Phone type attribute"},
	{"grandstream", "POST /cgi-bin/dologin, POST /cgi-bin/api.values.get", "read-back after check-sync and on refresh: P-values by number",
		"public clients of GXP/GRP/HT8xx firmware; Rapid7's CVE-2026-2329 write-up (request = colon-separated identifiers)",
		"GDS37xx support; the login field names on each firmware"},
	{"grandstream", "P2312, P2412 as host or host:port", "secondary SIP server (the site's second node) of phones, GDS",
		"reference §4.2, §4.3 name the keys (FusionPBX, Wazo templates) but not their value's form; written as P47/P402 are",
		"whether the secondary server takes a port after the host"},
	{"grandstream", "P64 on GDS37xx", "not written: the GDS time zone (a warning is given)", "reference §4.3", "its value format"},
	{"grandstream", "P10457, P15460 with * or #", "GDS remote PIN of doors 1 and 2 (a warning is given for * and #)",
		"FusionPBX's GDS3710 template comments (reference §4.3)", "whether PINs may hold * or #"},
}

// UnverifiedMarkdown renders Unverified as the Markdown of
// docs/unverified-keys.md.
func UnverifiedMarkdown() []byte {
	var b bytes.Buffer
	b.WriteString("# Vendor keys not yet verified\n\n")
	b.WriteString("Generated from `compiler/provision/unverified.go` (`provision.Unverified`); do not edit.\n")
	b.WriteString("Each row is a setting, value or API switchboard writes or reads whose name no vendor documentation\n")
	b.WriteString("read so far confirms. \"reference §n\" is `shared/reference/provisioning.md`. Check them on hardware,\n")
	b.WriteString("then move what holds into the vendor package's comment and out of this table.\n")
	vendor := ""
	for _, k := range Unverified {
		if k.Vendor != vendor {
			vendor = k.Vendor
			fmt.Fprintf(&b, "\n## %s\n\n| key | used for | source | not known |\n|---|---|---|---|\n", vendor)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", cell(k.Key), cell(k.Use), cell(k.Source), cell(k.Check))
	}
	return b.Bytes()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
