// Package ir is the compiled form of a site: the contract between compile
// time and run time. The runtime and the simulator execute a Program without
// ever seeing HCL; the provisioning renderers turn its device profiles into
// the files real hardware fetches.
//
// A Program is:
//
//   - versioned: Version must equal the package constant Version, and
//     Unmarshal refuses anything else;
//   - JSON-serialisable and byte-stable: Marshal writes canonical, indented
//     JSON (dialplan.json) with every keyed slice sorted (see Sort) and no
//     maps;
//   - free of secrets: it names accounts and their rotation counters, never a
//     password; a trunk's password (and a username taken from a variable)
//     is a SecretRef to an input the server reads when it starts;
//   - traceable: every node carries the Origin of the HCL that produced it,
//     so a runtime failure can say `site.pbx.hcl:42: in user "mary": …`.
//
// The package is a leaf: it imports only the standard library. In particular
// Origin is a plain struct rather than an hcl.Range, so that the runtime (which
// may import only this package) does not pull in the HCL toolchain; it keeps
// byte offsets too, so a caller that has the source files can rebuild an
// hcl.Range and print a snippet (see Origin).
//
// Names. Users, residences, devices, trunks, mailboxes and conference rooms
// are named by their HCL block labels. Accounts are named "<kind>.<name>"
// (device.front-gate, app.mary), which keeps them unique across kinds. A Ref
// points at another node as "<kind>.<name>" (user.mary, residence.apt-1a).
//
// Order. Slices keyed by a name or number are kept sorted by that key (Sort
// puts them in order, Validate checks it). Slices whose order is meaning are
// left as the lowering produced them: Ring.Legs (ring order) and Site.NTP
// (preference order).
package ir

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Version is the IR format version this package reads and writes.
const Version = 1

// Program is one compiled site.
type Program struct {
	Version int  `json:"version"`
	Site    Site `json:"site"`

	// Accounts are the SIP accounts: one per device, one per app user, and
	// optionally trunk accounts. Sorted by Name.
	Accounts []Account `json:"accounts,omitempty"`
	// Users are the real people. Sorted by Name.
	Users []User `json:"users,omitempty"`
	// Residences are what door stations call. Sorted by Name.
	Residences []Residence `json:"residences,omitempty"`
	// Mailboxes are the voicemail boxes. Sorted by Name.
	Mailboxes []Mailbox `json:"mailboxes,omitempty"`
	// Retired are the people applies removed, whose data the server
	// archives or deletes. Sorted by Identity.
	Retired []Retired `json:"retired,omitempty"`
	// Numbers is the internal dial plan: what phones and apps may dial.
	// Sorted by Number.
	Numbers []Number `json:"numbers,omitempty"`
	// Entries are door-station entry points: the codes a door station dials
	// when a button is pressed or a visitor keys a code. Each door station has
	// its own namespace. Sorted by Device, then Code.
	Entries []Entry `json:"entries,omitempty"`
	// DDIs are carrier numbers routed to users. Sorted by Number.
	DDIs []DDI `json:"ddis,omitempty"`
	// Conferences are bridge rooms. Sorted by Name.
	Conferences []Conference `json:"conferences,omitempty"`
	// Trunks are carrier trunks. Sorted by Name.
	Trunks []Trunk `json:"trunks,omitempty"`
	// Devices are the device profiles the provisioning renderers consume.
	// Sorted by Name.
	Devices []Device `json:"devices,omitempty"`
}

// Site describes the installation as a whole.
type Site struct {
	Name        string `json:"name"`                   // block label
	DisplayName string `json:"display_name,omitempty"` // attribute "name"
	Domain      string `json:"domain"`                 // SIP domain
	Country     string `json:"country,omitempty"`      // ISO 3166-1 alpha-2
	Timezone    string `json:"timezone,omitempty"`     // IANA zone
	// Emergency are the emergency numbers of the country, sorted. Calls to
	// them always go out over a trunk.
	Emergency []string `json:"emergency,omitempty"`
	// NTP are time servers in order of preference (not sorted).
	NTP []string `json:"ntp,omitempty"`
	// ProvisionURL is the base URL devices fetch their files from, ending in
	// "/". Renderers use it for files that point at other files (a phone's
	// remote directory); empty when unknown.
	ProvisionURL string `json:"provision_url,omitempty"`
	// Digest are the digest algorithms offered, in order, to an account
	// whose client the compiler cannot know (apps, trunks) and to a user
	// name that is no account, so that a challenge does not tell which
	// names exist: DigestMD5 unless the site asks for more. Empty means
	// DigestMD5.
	Digest []string `json:"digest,omitempty"`
	// Installer is who installed the site, for the handover sheet and the
	// plan's ownership callout; nil when the site names none.
	Installer *Installer `json:"installer,omitempty"`
	// RemovedData is what happens to a removed person's voicemail data:
	// "archive" (empty: the default) or "delete"; ArchiveDays how long an
	// archive is kept (0: DefaultArchiveDays).
	RemovedData string `json:"removed_data,omitempty"`
	ArchiveDays int    `json:"archive_days,omitempty"`
	Origin      Origin `json:"origin,omitzero"`
}

// Installer is the site's installer: a company and its contacts, never a
// person who answers calls (see Roles).
type Installer struct {
	Company string `json:"company"`
	Email   string `json:"email,omitempty"`
	Phone   string `json:"phone,omitempty"`
	// OwnsSite: the installer is the site's owner (no user is).
	OwnsSite bool `json:"owns_site,omitempty"`
}

// DefaultArchiveDays is how long a removed person's voicemail archive is
// kept when the site does not say.
const DefaultArchiveDays = 30

// Offboarding returns the site's policy for a removed person's data, with
// the defaults filled in: "archive" or "delete", and the archive's days.
func (s Site) Offboarding() (data string, archiveDays int) {
	data, archiveDays = s.RemovedData, s.ArchiveDays
	if data == "" {
		data = "archive"
	}
	if archiveDays == 0 {
		archiveDays = DefaultArchiveDays
	}
	return data, archiveDays
}

// Digest algorithm names (RFC 8760), as Site.Digest and Account.Digest
// list them.
const (
	DigestMD5    = "MD5"
	DigestSHA256 = "SHA-256"
)

// AccountKind is what an account belongs to.
type AccountKind string

const (
	AccountDevice AccountKind = "device" // a door station, monitor or phone
	AccountApp    AccountKind = "app"    // a user's own app endpoint
	AccountTrunk  AccountKind = "trunk"  // a carrier trunk registering to us
)

// Account is one SIP account. Its password is derived from the site key, the
// site name, Kind, Name and Rotation (package credentials); it is never
// stored here.
type Account struct {
	Name        string      `json:"name"` // "<kind>.<name>", unique
	Kind        AccountKind `json:"kind"`
	Username    string      `json:"username"`  // SIP user part, unique
	AuthName    string      `json:"auth_name"` // digest user name
	DisplayName string      `json:"display_name,omitempty"`
	// CallerName and CallerNumber are who the account's calls present to
	// callees inside the site ("Mary Byrne" <sip:101@domain>): a person's
	// accounts their name and extension, a device of nobody its
	// DisplayName. CallerNumber is empty when the owner has no number; the
	// runtime then presents Username. Calls out to a carrier never present
	// them (a location stays inside the site).
	CallerName   string `json:"caller_name,omitempty"`
	CallerNumber string `json:"caller_number,omitempty"`
	// Owner is who the account belongs to: a user (app accounts, desk
	// phones), a residence (indoor monitors), a device (door stations) or a
	// trunk.
	Owner Ref `json:"owner"`
	// Device is the device using the account, for device accounts.
	Device string `json:"device,omitempty"`
	// Rotation is the credential rotation counter: +1 gives the account a new
	// password and changes nothing else.
	Rotation int `json:"rotation"`
	// Digest are the digest algorithms the server offers the account, in
	// order: what its device's model answers (the catalogue), else the
	// site's Digest. Empty means the site's.
	Digest []string `json:"digest,omitempty"`
	Origin Origin   `json:"origin,omitzero"`
}

// DigestOf returns the digest algorithms offered to the account named
// name: its own, else the site's (also for a name that is no account),
// else DigestMD5.
func (p *Program) DigestOf(name string) []string {
	if a := p.Account(name); a != nil && len(a.Digest) > 0 {
		return a.Digest
	}
	if len(p.Site.Digest) > 0 {
		return p.Site.Digest
	}
	return []string{DigestMD5}
}

// User is one real person.
type User struct {
	Name string `json:"name"`
	// Identity is the stable identity the user's data (voicemail box,
	// greeting, PIN) belongs to, recorded in the applied state at their
	// first apply; empty means the block name (a site never applied, or a
	// user applied before identities were recorded). See ID.
	Identity    string `json:"identity,omitempty"`
	DisplayName string `json:"display_name"`
	Email       string `json:"email,omitempty"` // login for app and portal
	// NotifyEmail is where voicemail notifications go; Email when empty.
	NotifyEmail string `json:"notify_email,omitempty"`
	Role        string `json:"role"` // owner | admin | user
	Residence   string `json:"residence,omitempty"`
	Extension   string `json:"extension,omitempty"`
	// Endpoints are the accounts that ring for this user (app account and
	// desk phones), sorted.
	Endpoints []string `json:"endpoints,omitempty"`
	// Mailbox is the user's voicemail box, empty without voicemail.
	Mailbox string `json:"mailbox,omitempty"`
	// Directory lists the user in the site directory of monitors and phones.
	Directory bool `json:"directory,omitempty"`
	// SendCredentials asks apply to send the user an invitation with their
	// login, to NotifyEmail, else Email.
	SendCredentials bool `json:"send_credentials,omitempty"`
	// Ring is what happens when someone calls the user directly.
	Ring Ring `json:"ring"`
	// Rotation rotates the user's portal/app login.
	Rotation int    `json:"rotation"`
	Origin   Origin `json:"origin,omitzero"`
}

// ID is the user's identity: Identity, else the block name.
func (u *User) ID() string {
	if u.Identity != "" {
		return u.Identity
	}
	return u.Name
}

// Retired is a person an apply removed: the identity their data belonged
// to, which nobody is given again, and what happens to that data.
type Retired struct {
	Identity string `json:"identity"`
	User     string `json:"user"` // the block name they had
	// Data is "archive" (kept until ArchiveUntil, then deleted) or
	// "delete".
	Data         string    `json:"data"`
	ArchiveUntil time.Time `json:"archive_until,omitzero"`
	Owner        string    `json:"owner,omitempty"` // who the archive is kept for
}

// Residence is a flat, house or office.
type Residence struct {
	Name  string `json:"name"`
	Label string `json:"label"` // what a visitor keys or picks at the door
	// Users are the residents, sorted.
	Users []string `json:"users,omitempty"`
	// Monitors are the residence's indoor monitors (device names), sorted.
	Monitors []string `json:"monitors,omitempty"`
	// Ring is what happens when a door station calls the residence.
	Ring   Ring   `json:"ring"`
	Origin Origin `json:"origin,omitzero"`
}

// Strategy is how the legs of a ring are tried.
type Strategy string

const (
	// Simultaneous starts every leg at once; each leg gives up after its own
	// timeout and the whole ring after Ring.Timeout.
	Simultaneous Strategy = "simultaneous"
	// Sequential tries legs in order, each for its own timeout, the whole
	// ring bounded by Ring.Timeout.
	Sequential Strategy = "sequential"
)

// Ring is a ring plan: which accounts ring, in which order, for how long,
// and what happens when nobody takes the call.
type Ring struct {
	Strategy Strategy `json:"strategy"`
	// Legs are rung per Strategy; their order is meaning and is kept.
	Legs    []Leg    `json:"legs,omitempty"`
	Timeout Duration `json:"timeout"` // total
	// NoAnswer, Busy and Decline say what happens when the ring ends without
	// an answer, every leg is busy, or a callee declines.
	NoAnswer Fallback `json:"no_answer"`
	Busy     Fallback `json:"busy"`
	Decline  Fallback `json:"decline"`
}

// Leg is one group of accounts rung together.
type Leg struct {
	// Label says whose leg this is, e.g. "user.mary" or "device.monitor-1a".
	Label    string   `json:"label,omitempty"`
	Accounts []string `json:"accounts"` // sorted
	Timeout  Duration `json:"timeout"`
}

// FallbackKind is what happens to an unanswered call.
type FallbackKind string

const (
	FallbackHangup    FallbackKind = "hangup"
	FallbackVoicemail FallbackKind = "voicemail"
)

// Fallback is the end of an unanswered call.
type Fallback struct {
	Kind    FallbackKind `json:"kind"`
	Mailbox string       `json:"mailbox,omitempty"` // for FallbackVoicemail
}

// String is the fallback as events and reports say it: "voicemail mary",
// "hangup".
func (f Fallback) String() string {
	if f.Kind == FallbackVoicemail {
		return "voicemail " + f.Mailbox
	}
	return string(f.Kind)
}

// Mailbox is a voicemail box.
type Mailbox struct {
	Name   string `json:"name"`
	Owner  Ref    `json:"owner"` // user.<name>
	Origin Origin `json:"origin,omitzero"`
}

// ActionKind is what a dialled number does.
type ActionKind string

const (
	// ActionRing rings Target: a user or a residence.
	ActionRing ActionKind = "ring"
	// ActionVoicemail enters the caller's own mailbox (the voicemail access
	// code); Target is empty.
	ActionVoicemail ActionKind = "voicemail"
	// ActionConference joins the conference room Target.
	ActionConference ActionKind = "conference"
)

// Action is what a number does when dialled.
type Action struct {
	Kind   ActionKind `json:"kind"`
	Target Ref        `json:"target,omitzero"`
}

// Number is an entry of the internal dial plan.
type Number struct {
	Number string `json:"number"`
	Action Action `json:"action"`
	Origin Origin `json:"origin,omitzero"`
}

// Entry is a door-station entry point: when Device dials Code (a button
// press or a code keyed by a visitor), the call goes to Target.
type Entry struct {
	Device string `json:"device"`
	Code   string `json:"code"`
	Target Ref    `json:"target"` // residence.<name> or user.<name>
	// CallerName is who the door station's call through this entry
	// presents to callees: its location and button ("Gate, button 1").
	CallerName string `json:"caller_name,omitempty"`
	Origin     Origin `json:"origin,omitzero"`
}

// DDI routes a carrier number to a user.
type DDI struct {
	Number string `json:"number"` // E.164
	Trunk  string `json:"trunk"`
	Target Ref    `json:"target"` // user.<name>
	Origin Origin `json:"origin,omitzero"`
}

// Conference is a bridge room.
type Conference struct {
	Name   string `json:"name"`
	Number string `json:"number"`
	Owner  Ref    `json:"owner,omitzero"`
	// PIN: callers key the room's member PIN, or the owner's PIN (both
	// derived from the site key, listed by credentials); the owner calling
	// from their own phone or app is let in without one.
	PIN    bool   `json:"pin,omitempty"`
	Origin Origin `json:"origin,omitzero"`
}

// SecretRef names a sensitive input without holding its value: "var.<name>"
// for a variable, resolved at run time from the same inputs the compiler
// read (-var, -var-file, SWITCHBOARD_VAR_<name>).
type SecretRef string

// Trunk is a carrier SIP trunk. Port is the port the site writes, 0 when
// it writes none: the server then looks Host up as an SRV service for
// Transport (RFC 3263, package runtime/sipdns), else uses the transport's
// default port.
type Trunk struct {
	Name      string   `json:"name"`
	Host      string   `json:"host"`
	Port      int      `json:"port"`
	Transport string   `json:"transport"` // udp | tcp | tls
	DDIs      []string `json:"ddis,omitempty"`
	// Username names the variable the trunk's username comes from; Login
	// is the username itself when the site writes it as text (a username
	// is not a secret). At most one of them is set.
	Username SecretRef `json:"username,omitempty"`
	Login    string    `json:"login,omitempty"`
	Password SecretRef `json:"password,omitempty"`
	// Unassigned is where the carrier's calls to a spare number of DDIs
	// (one no DDI entry assigns) go: a user or a residence, rung like a
	// DDI's user; zero answers them 404. With UnassignedMailbox set they go
	// straight to that voicemail box (Unassigned's user's) instead.
	Unassigned        Ref    `json:"unassigned,omitzero"`
	UnassignedMailbox string `json:"unassigned_mailbox,omitempty"`
	Origin            Origin `json:"origin,omitzero"`
}

// DeviceKind is a device's role.
type DeviceKind string

const (
	DoorStation DeviceKind = "door"
	Monitor     DeviceKind = "monitor"
	Phone       DeviceKind = "phone"
)

// Device is a device profile: everything a vendor renderer needs to write
// the device's provisioning files, and nothing vendor-specific.
type Device struct {
	Name   string     `json:"name"`
	Model  string     `json:"model"`  // catalogue name, e.g. "akuvox-r29c"
	Vendor string     `json:"vendor"` // "akuvox", "yealink", "grandstream"
	Kind   DeviceKind `json:"kind"`
	// MAC is canonical: 12 lower-case hex digits, no separators.
	MAC      string `json:"mac"`
	Location string `json:"location,omitempty"`
	// Account is the device's SIP account (Account.Name).
	Account string `json:"account"`
	// Residence is the residence a monitor belongs to; User the user a phone
	// belongs to.
	Residence string `json:"residence,omitempty"`
	User      string `json:"user,omitempty"`
	Timezone  string `json:"timezone,omitempty"` // IANA zone
	SIP       SIP    `json:"sip"`

	// Door stations.
	Buttons []Button `json:"buttons,omitempty"` // sorted by Index
	Keypad  bool     `json:"keypad,omitempty"`  // visitors may key entry codes
	Relays  []Relay  `json:"relays,omitempty"`  // sorted by Index

	// Monitors and phones.
	Contacts []Contact `json:"contacts,omitempty"` // sorted by Name, Number
	// UnlockDTMF is the code a monitor sends to open the door during a door
	// call.
	UnlockDTMF string `json:"unlock_dtmf,omitempty"`

	// Phones.
	LineKeys []LineKey `json:"line_keys,omitempty"` // sorted by Index

	Origin Origin `json:"origin,omitzero"`
}

// SIP is how a device reaches the SIP server.
type SIP struct {
	Server    string   `json:"server"`
	Port      int      `json:"port"`
	Transport string   `json:"transport"` // udp | tcp | tls
	Expiry    Duration `json:"expiry"`    // registration expiry
	// Backup are the site's further nodes, in order: devices register
	// with Server and fail over to these (each on Transport). Empty for
	// a site served from one server.
	Backup []SIPServer `json:"backup,omitempty"`
}

// SIPServer is one further SIP server a device may fail over to.
type SIPServer struct {
	Server string `json:"server"`
	Port   int    `json:"port"`
}

// Button is a door-station push button (physical or on a touch screen).
type Button struct {
	Index int    `json:"index"` // 1-based position on the device
	Label string `json:"label"` // block label, e.g. "1"
	// Dial is what the device dials when pressed: the Code of an Entry of
	// this device.
	Dial   string `json:"dial"`
	Target Ref    `json:"target"`
	Origin Origin `json:"origin,omitzero"`
}

// TriggerPolicy says who may open a relay.
type TriggerPolicy string

const (
	// TriggerCalled lets the endpoints of the residence or user this door
	// station called open the relay during that call (the default).
	TriggerCalled TriggerPolicy = "called"
	// TriggerAccounts lets only the listed accounts open it.
	TriggerAccounts TriggerPolicy = "accounts"
)

// Trigger is who may open a relay.
type Trigger struct {
	Policy   TriggerPolicy `json:"policy"`
	Accounts []string      `json:"accounts,omitempty"` // sorted
}

// Relay is a door-station relay opened by a DTMF code during a call.
type Relay struct {
	Name    string   `json:"name"`
	Index   int      `json:"index"` // 1-based: relay A = 1
	DTMF    string   `json:"dtmf"`
	Hold    Duration `json:"hold"`
	Trigger Trigger  `json:"trigger"`
	Origin  Origin   `json:"origin,omitzero"`
}

// Contact is an entry of a monitor's or phone's directory.
type Contact struct {
	Name   string `json:"name"`
	Number string `json:"number"`
	Origin Origin `json:"origin,omitzero"`
}

// LineKeyType is what a phone's line key does.
type LineKeyType string

const (
	KeyLine      LineKeyType = "line"       // the phone's own line
	KeySpeedDial LineKeyType = "speed-dial" // dial Value
	KeyBLF       LineKeyType = "blf"        // watch and dial Value
	KeyDTMF      LineKeyType = "dtmf"       // send Value in a call (open door)
)

// LineKey is a programmable key of a desk phone.
type LineKey struct {
	Index  int         `json:"index"` // 1-based
	Type   LineKeyType `json:"type"`
	Value  string      `json:"value,omitempty"`
	Label  string      `json:"label,omitempty"`
	Origin Origin      `json:"origin,omitzero"`
}

// RefKind is the kind of node a Ref points at.
type RefKind string

const (
	RefUser       RefKind = "user"
	RefResidence  RefKind = "residence"
	RefDevice     RefKind = "device"
	RefTrunk      RefKind = "trunk"
	RefConference RefKind = "conference"
	RefSite       RefKind = "site"
)

// Ref points at another node. It is written "<kind>.<name>" in JSON and in
// the dump.
type Ref struct {
	Kind RefKind
	Name string
}

// String renders the reference as "<kind>.<name>", or "" for the zero Ref.
func (r Ref) String() string {
	if r.Kind == "" && r.Name == "" {
		return ""
	}
	return string(r.Kind) + "." + r.Name
}

// IsZero reports whether r points nowhere.
func (r Ref) IsZero() bool { return r.Kind == "" && r.Name == "" }

// ParseRef parses "<kind>.<name>". Names never contain dots, kinds never do.
func ParseRef(s string) (Ref, error) {
	if s == "" {
		return Ref{}, nil
	}
	kind, name, ok := strings.Cut(s, ".")
	if !ok || kind == "" || name == "" {
		return Ref{}, fmt.Errorf("ir: malformed reference %q: want <kind>.<name>", s)
	}
	return Ref{Kind: RefKind(kind), Name: name}, nil
}

// UserRef, ResidenceRef, DeviceRef and ConferenceRef build Refs.
func UserRef(name string) Ref       { return Ref{RefUser, name} }
func ResidenceRef(name string) Ref  { return Ref{RefResidence, name} }
func DeviceRef(name string) Ref     { return Ref{RefDevice, name} }
func ConferenceRef(name string) Ref { return Ref{RefConference, name} }

// AccountName is the account name for an account of kind k named name.
func AccountName(k AccountKind, name string) string { return string(k) + "." + name }

// Duration is a time.Duration written as a Go duration string ("30s") in
// JSON and in the dump.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Seconds returns d in whole seconds, rounded up.
func (d Duration) Seconds() int {
	s := time.Duration(d) / time.Second
	if time.Duration(d)%time.Second > 0 {
		s++
	}
	return int(s)
}

func (d Duration) String() string { return time.Duration(d).String() }

// Origin is where a node came from in the site files: a source range (1-based
// lines and columns, 0-based byte offsets, file names relative to the site
// directory with forward slashes) and the object it belongs to, such as
// `user "mary"`. The zero Origin means "generated, no source".
//
// In JSON an origin is one compact string (a large site has hundreds of
// thousands of them):
//
//	site.pbx.hcl:20:1-20:2@340-352 user "mary"
//
// that is file:line:column-endline:endcolumn@byte-endbyte, then a space and
// the object. To print a snippet with the HCL diagnostic writer, rebuild the
// range:
//
//	hcl.Range{Filename: o.File,
//		Start: hcl.Pos{Line: o.Line, Column: o.Column, Byte: o.Byte},
//		End:   hcl.Pos{Line: o.EndLine, Column: o.EndColumn, Byte: o.EndByte}}
type Origin struct {
	File      string
	Line      int
	Column    int
	Byte      int
	EndLine   int
	EndColumn int
	EndByte   int
	Object    string
}

// IsZero reports whether o is the zero Origin.
func (o Origin) IsZero() bool { return o == Origin{} }

// HasPos reports whether o has a source position.
func (o Origin) HasPos() bool { return o.File != "" }

// Pos renders the start position as "file:line" ("file:line,col" when the
// column is known), or "" for a zero Origin.
func (o Origin) Pos() string {
	if o.File == "" {
		return ""
	}
	s := o.File + ":" + strconv.Itoa(o.Line)
	if o.Column > 0 {
		s += "," + strconv.Itoa(o.Column)
	}
	return s
}

// String renders o as a message prefix: `site.pbx.hcl:42,3: in user "mary"`.
func (o Origin) String() string {
	pos := o.Pos()
	switch {
	case pos == "" && o.Object == "":
		return "(generated)"
	case o.Object == "":
		return pos
	case pos == "":
		return "in " + o.Object
	}
	return pos + ": in " + o.Object
}
