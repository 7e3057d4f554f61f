// Package catalogue knows the device models switchboard can provision:
// who makes them, what kind of device each is (door station, indoor monitor
// or desk phone) and what it can do, and the vendors' MAC address prefixes.
//
// The check pass uses it to validate devices; the provisioning renderers
// use it to pick a vendor adapter and size key layouts. Everything returned
// is shared: treat it as read-only.
//
// Capabilities are what switchboard relies on, not full data sheets. They
// are used for warnings ("button 7 on a one-button panel"), never to reject
// a configuration, because firmware and hardware revisions differ. Sources:
// vendor admin guides and knowledge-base pages as noted per line; [U] marks
// a figure not confirmed from a readable source, to be checked on hardware.
// One capability reaches the running server: the digest algorithms a
// model answers (Digest), which its account is offered, each with the
// document it comes from.
package catalogue

import (
	"slices"
	"strings"

	"github.com/agext/levenshtein"
)

// Kind is what a device does on a site.
type Kind string

// Device kinds.
const (
	DoorStation Kind = "door station"   // calls residences or users; opens doors by DTMF
	Monitor     Kind = "indoor monitor" // answers door calls for one residence
	Phone       Kind = "desk phone"     // a user's own phone
)

// Vendor is a device maker.
type Vendor struct {
	ID   string // lower case, the prefix of its model IDs: "akuvox"
	Name string // as printed: "Akuvox"
	// Digest is what the vendor's models answer unless a model says
	// otherwise.
	Digest Digest
	// OUIs are the IEEE prefixes (first three bytes of a MAC address) the
	// vendor's devices are known to use, as 6 lower-case hex digits. Lists
	// are not exhaustive and OEM devices carry other prefixes.
	OUIs []string
	// SIPServers is how many SIP servers (a primary and backups) the
	// vendor's provisioning files name per account, so a device fails
	// over between a site's nodes; 0 when unknown (one is written).
	// All three take two: reference/provisioning.md §10.5 "Backup
	// registrar" (Akuvox SIP.Server2, Yealink sip_server.2.*,
	// Grandstream P2312 / GDS P2412).
	SIPServers int
}

// Model is one device model.
type Model struct {
	ID     string // "<vendor>-<model>", lower case: "akuvox-r29c"
	Vendor *Vendor
	Name   string // as printed: "R29C"
	Kind   Kind

	// Buttons is how many call buttons a door station offers: physical
	// push buttons, or on-screen call keys on touch-screen panels.
	Buttons int
	// Keypad is true when a visitor can key or pick any residence on the
	// panel (a keypad or a touch-screen directory).
	Keypad bool
	// Relays is how many relays the device can switch by DTMF: door
	// relays of a door station, local relays of a monitor.
	Relays int
	// DTMFDigits is the longest relay DTMF code the firmware accepts;
	// 0 when no limit is known.
	DTMFDigits int
	Video      bool
	// LineKeys is how many programmable line keys a desk phone has on its
	// first page; Accounts how many SIP accounts it can register.
	LineKeys int
	Accounts int
	// BLF is true when the vendor's encoding of a busy-lamp-field key is
	// known for this model (Yealink type 16; Grandstream's P23000 block on
	// the GXP21xx, as Wazo writes it): such a phone gets keys for the
	// site's people by default. Others get them only when the site asks
	// (blf = [...]), with a warning to check them on the phone.
	BLF bool

	// Digest is what the model's firmware answers to a digest challenge;
	// the zero value takes its vendor's.
	Digest Digest
}

// Digest is the digest algorithms a model's firmware answers (RFC 8760
// names, "MD5" and "SHA-256", in the order the server should offer them)
// and where that is known from. The server offers an account exactly
// these, so that a client that reads only the first challenge, or gives
// up at the first one it cannot answer, still registers.
type Digest struct {
	Algorithms []string
	// Source is the vendor document or field report the algorithms come
	// from, or "no evidence of SHA-256" when none was found: MD5 is what
	// every SIP client answers (RFC 3261 §22.4).
	Source string
}

// Digest algorithm names, as RFC 8760 and the IR write them.
const (
	MD5    = "MD5"
	SHA256 = "SHA-256"
)

// String renders the model the way people name it: "Akuvox R29C".
func (m *Model) String() string { return m.Vendor.Name + " " + m.Name }

var (
	// Digest sources. None of the vendors' admin guides, knowledge-base
	// pages or release notes we could read (searched December 2026 for
	// RFC 8760, SHA-256 digest and "authentication algorithm") says that
	// the firmware answers a SHA-256 challenge, and the field reports we
	// found say MD5 only: Kamailio issue #4161 (2025, "all the softphones
	// I have tested so far do not support SHA-256"), SIPp before 3.7
	// (SIPp issue #652). So every model offers MD5 alone until a document
	// says more; a model line overrides its vendor's when one does.
	akuvox = &Vendor{ID: "akuvox", Name: "Akuvox", SIPServers: 2, Digest: md5Only("Akuvox"), OUIs: []string{
		"0c1105", // Akuvox (Xiamen) Networks, IEEE OUI registry
	}}
	// Yealink and Grandstream prefixes: wazo-provd-plugins DHCP class
	// definitions (dhcp/dhcpd_update/*.conf), see reference/provisioning.md §1.2.
	yealink = &Vendor{ID: "yealink", Name: "Yealink", SIPServers: 2, Digest: md5Only("Yealink"), OUIs: []string{
		"001565", "249ad8", "44dbd2", "644f56", "805e0c", "805ec0", "e434d7",
	}}
	grandstream = &Vendor{ID: "grandstream", Name: "Grandstream", SIPServers: 2, Digest: md5Only("Grandstream"), OUIs: []string{
		"000b82", "c074ad", "ec74d7",
	}}
	vendors = []*Vendor{akuvox, grandstream, yealink}
)

// models is the catalogue, one line per model, grouped by vendor and kind.
// Models sorts it by ID.
var models = []*Model{
	// Akuvox door stations. Relay counts: R20K admin guide ("R20K supports
	// three relays", DTMF codes up to 4 digits); X916 on-screen keys
	// Key1..Key6 (reference/provisioning.md §2.5).
	{ID: "akuvox-e12w", Vendor: akuvox, Name: "E12W", Kind: DoorStation, Buttons: 1, Relays: 1, DTMFDigits: 4, Video: true, Accounts: 2},
	{ID: "akuvox-e16c", Vendor: akuvox, Name: "E16C", Kind: DoorStation, Buttons: 1, Relays: 2, DTMFDigits: 4, Video: true, Accounts: 2},               // [U] relays
	{ID: "akuvox-e18c", Vendor: akuvox, Name: "E18C", Kind: DoorStation, Buttons: 1, Keypad: true, Relays: 2, DTMFDigits: 4, Video: true, Accounts: 2}, // [U] relays
	{ID: "akuvox-r20a", Vendor: akuvox, Name: "R20A", Kind: DoorStation, Buttons: 1, Relays: 3, DTMFDigits: 4, Video: true, Accounts: 2},
	{ID: "akuvox-r20k", Vendor: akuvox, Name: "R20K", Kind: DoorStation, Buttons: 1, Keypad: true, Relays: 3, DTMFDigits: 4, Video: true, Accounts: 2},
	{ID: "akuvox-r27a", Vendor: akuvox, Name: "R27A", Kind: DoorStation, Buttons: 1, Keypad: true, Relays: 3, DTMFDigits: 4, Video: true, Accounts: 2}, // R27A admin guide: three relays
	{ID: "akuvox-r29c", Vendor: akuvox, Name: "R29C", Kind: DoorStation, Buttons: 6, Keypad: true, Relays: 3, DTMFDigits: 4, Video: true, Accounts: 2}, // [U] buttons, relays
	{ID: "akuvox-s532", Vendor: akuvox, Name: "S532", Kind: DoorStation, Buttons: 1, Keypad: true, Relays: 2, DTMFDigits: 4, Video: true, Accounts: 2}, // [U]
	{ID: "akuvox-s535", Vendor: akuvox, Name: "S535", Kind: DoorStation, Buttons: 6, Keypad: true, Relays: 3, DTMFDigits: 4, Video: true, Accounts: 2}, // [U]
	{ID: "akuvox-x915", Vendor: akuvox, Name: "X915", Kind: DoorStation, Buttons: 6, Keypad: true, Relays: 3, DTMFDigits: 4, Video: true, Accounts: 2}, // [U] relays
	{ID: "akuvox-x916", Vendor: akuvox, Name: "X916", Kind: DoorStation, Buttons: 6, Keypad: true, Relays: 3, DTMFDigits: 4, Video: true, Accounts: 2}, // [U] relays

	// Akuvox indoor monitors: local relays per the Akuvox KB "Local Relay".
	{ID: "akuvox-c313", Vendor: akuvox, Name: "C313", Kind: Monitor, Relays: 1, DTMFDigits: 4, Video: true, Accounts: 2},
	{ID: "akuvox-c315", Vendor: akuvox, Name: "C315", Kind: Monitor, Relays: 1, DTMFDigits: 4, Video: true, Accounts: 2},
	{ID: "akuvox-c319", Vendor: akuvox, Name: "C319", Kind: Monitor, Relays: 2, DTMFDigits: 4, Video: true, Accounts: 2}, // [U] relays
	{ID: "akuvox-x933", Vendor: akuvox, Name: "X933", Kind: Monitor, Relays: 2, DTMFDigits: 4, Video: true, Accounts: 2}, // [U] relays

	// Grandstream GDS door systems: door 1 and door 2 keys (P10457/P15460,
	// P14101/P15466) in FusionPBX's GDS3710 template.
	{ID: "grandstream-gds3705", Vendor: grandstream, Name: "GDS3705", Kind: DoorStation, Buttons: 1, Keypad: true, Relays: 1, Accounts: 1}, // audio only
	{ID: "grandstream-gds3710", Vendor: grandstream, Name: "GDS3710", Kind: DoorStation, Buttons: 1, Keypad: true, Relays: 2, Video: true, Accounts: 1},
	{ID: "grandstream-gds3712", Vendor: grandstream, Name: "GDS3712", Kind: DoorStation, Buttons: 1, Relays: 1, Video: true, Accounts: 1}, // compact, no keypad

	// Grandstream desk phones.
	{ID: "grandstream-grp2612", Vendor: grandstream, Name: "GRP2612", Kind: Phone, LineKeys: 4, Accounts: 2},
	{ID: "grandstream-grp2614", Vendor: grandstream, Name: "GRP2614", Kind: Phone, LineKeys: 10, Accounts: 4},
	{ID: "grandstream-grp2615", Vendor: grandstream, Name: "GRP2615", Kind: Phone, LineKeys: 10, Accounts: 5},
	{ID: "grandstream-gxp2140", Vendor: grandstream, Name: "GXP2140", Kind: Phone, LineKeys: 4, Accounts: 4, BLF: true},
	{ID: "grandstream-gxp2160", Vendor: grandstream, Name: "GXP2160", Kind: Phone, LineKeys: 6, Accounts: 6, BLF: true},
	{ID: "grandstream-gxp2170", Vendor: grandstream, Name: "GXP2170", Kind: Phone, LineKeys: 12, Accounts: 6, BLF: true},

	// Yealink desk phones (T5x share firmware 96.x, reference/provisioning.md §3.1).
	{ID: "yealink-t31p", Vendor: yealink, Name: "T31P", Kind: Phone, LineKeys: 2, Accounts: 2, BLF: true},
	{ID: "yealink-t33g", Vendor: yealink, Name: "T33G", Kind: Phone, LineKeys: 4, Accounts: 4, BLF: true},
	{ID: "yealink-t43u", Vendor: yealink, Name: "T43U", Kind: Phone, LineKeys: 6, Accounts: 12, BLF: true},
	{ID: "yealink-t46u", Vendor: yealink, Name: "T46U", Kind: Phone, LineKeys: 10, Accounts: 16, BLF: true},
	{ID: "yealink-t48u", Vendor: yealink, Name: "T48U", Kind: Phone, LineKeys: 29, Accounts: 16, BLF: true},
	{ID: "yealink-t53w", Vendor: yealink, Name: "T53W", Kind: Phone, LineKeys: 8, Accounts: 12, BLF: true},
	{ID: "yealink-t54w", Vendor: yealink, Name: "T54W", Kind: Phone, LineKeys: 10, Accounts: 16, BLF: true},
	{ID: "yealink-t57w", Vendor: yealink, Name: "T57W", Kind: Phone, LineKeys: 29, Accounts: 16, BLF: true},
}

// md5Only is the Digest of a vendor for which no document says more.
func md5Only(vendor string) Digest {
	return Digest{Algorithms: []string{MD5}, Source: "no evidence of SHA-256 in " + vendor + "'s admin guides and knowledge base; field reports (Kamailio issue #4161) find MD5 only"}
}

var (
	byID  = map[string]*Model{}
	byOUI = map[string]*Vendor{}
)

func init() {
	slices.SortFunc(models, func(a, b *Model) int { return strings.Compare(a.ID, b.ID) })
	for _, m := range models {
		byID[m.ID] = m
		if m.Digest.Algorithms == nil {
			m.Digest = m.Vendor.Digest
		}
	}
	for _, v := range vendors {
		for _, o := range v.OUIs {
			byOUI[o] = v
		}
	}
}

// Lookup finds a model by its ID ("akuvox-r29c"). IDs are lower case;
// Lookup does not fold case, so that a site file says what the catalogue
// says (Suggest offers the right spelling).
func Lookup(id string) (*Model, bool) {
	m, ok := byID[id]
	return m, ok
}

// Models returns every model, sorted by ID.
func Models() []*Model { return slices.Clone(models) }

// Vendors returns every vendor, sorted by ID.
func Vendors() []*Vendor { return slices.Clone(vendors) }

// VendorByOUI finds the vendor that owns a MAC prefix (6 hex digits, any case).
func VendorByOUI(oui string) (*Vendor, bool) {
	v, ok := byOUI[strings.ToLower(oui)]
	return v, ok
}

// Suggest returns the model ID someone probably meant by an unknown id, or
// "" when nothing is close. It tries, in order: case, a missing vendor
// prefix ("r29c" → "akuvox-r29c"), then the closest ID by edit distance.
func Suggest(id string) string {
	low := strings.ToLower(strings.TrimSpace(id))
	low = strings.ReplaceAll(low, " ", "-")
	low = strings.ReplaceAll(low, "_", "-")
	if _, ok := byID[low]; ok {
		return low
	}
	for _, m := range models {
		if strings.HasSuffix(m.ID, "-"+low) {
			return m.ID
		}
	}
	best, bestDist := "", 4 // a suggestion must be within 3 edits
	for _, m := range models {
		if d := levenshtein.Distance(low, m.ID, nil); d < bestDist {
			best, bestDist = m.ID, d
		}
	}
	return best
}
