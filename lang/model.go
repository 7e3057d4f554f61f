package lang

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is one site directory, decoded. It keeps every parsed file so that
// diagnostics from any later stage can be printed with source snippets.
//
// Slices hold blocks in declaration order (file name, then position), which
// is also the order every later stage sees them in; nothing here depends on
// map iteration.
type Config struct {
	Dir   string               // the site directory as given to Load
	Files map[string]*hcl.File // keyed by path relative to Dir, forward slashes

	Sites      []*Site // the compiler insists on exactly one
	Residences []*Residence
	Users      []*User
	Devices    []*Device
	Trunks     []*Trunk
	Variables  []*Variable

	// Lock is the allocation record read from LockFileName, empty when the
	// file does not exist yet.
	Lock *Lock

	// Sensitive is where the values of sensitive variables are, as the
	// marks on them showed while the site was evaluated.
	Sensitive Sensitive

	// Today is the date the site is compiled on (UTC midnight): it dates
	// quarantines and ends them.
	Today time.Time
}

// Site returns the single site, or nil when there is not exactly one.
func (c *Config) Site() *Site {
	if len(c.Sites) != 1 {
		return nil
	}
	return c.Sites[0]
}

// Ref is a reference written as an HCL traversal, such as residence.apt-1a.
type Ref struct {
	Kind  string // "residence", "user", "device" or "trunk"
	Name  string
	Range hcl.Range
}

// String renders the reference the way it is written in a site file.
func (r Ref) String() string { return r.Kind + "." + r.Name }

// Str is a string attribute with where it was written. Set is false when the
// attribute was omitted; Range is then the enclosing block's header.
type Str struct {
	Value string
	Set   bool
	Range hcl.Range
}

// Bool is a boolean attribute; Value holds the default when Set is false.
type Bool struct {
	Value bool
	Set   bool
	Range hcl.Range
}

// Duration is a duration attribute such as "30s".
type Duration struct {
	Value time.Duration
	Raw   string
	Set   bool
	Range hcl.Range
}

// Number is something a person dials or keys: digits, and for feature codes
// a leading * or #. Numbers are strings so that leading zeros survive.
type Number struct {
	Value string
	Set   bool
	Range hcl.Range
}

// Secret is a value that may be a secret, such as a trunk's credentials.
// Sensitive is true when it came from a variable marked sensitive.
type Secret struct {
	Value     string
	Sensitive bool
	// Literal is true when the expression refers to nothing (no variable,
	// local or block): the value is written in the site files themselves,
	// so it is in git. The compiler reads this instead of the source.
	Literal bool
	// Source is "var.<name>" when the attribute is written as a plain
	// reference to a variable, so the runtime can be told where to read the
	// secret instead of being handed it.
	Source string
	Set    bool
	Range  hcl.Range
}

// Site is the site block: one per directory.
type Site struct {
	Name      string
	NameRange hcl.Range
	DeclRange hcl.Range

	DisplayName Str // attribute "name"
	Country     Str // ISO 3166-1 alpha-2
	Timezone    Str // IANA zone
	Domain      Str // SIP domain

	// AutoExtensionsFrom is where extension = "auto" starts counting.
	AutoExtensionsFrom Number

	// Digest are the digest algorithms ("md5", "sha-256", in order of
	// preference) offered to accounts whose client switchboard cannot
	// know from a device model: apps and trunks. Nil when not written
	// (MD5 alone); DigestRange is the attribute's, else the block's.
	Digest      []Str
	DigestRange hcl.Range

	// Nodes are the SIP servers ("host" or "host:port") the site is
	// served from, primary first: devices are provisioned with them so
	// they fail over when a node dies. Nil when not written (the domain
	// alone); NodesRange is the attribute's, else the block's.
	Nodes      []Str
	NodesRange hcl.Range

	// RemovedData is what happens to a removed person's voicemail data:
	// OffboardArchive (default) or OffboardDelete. ArchiveDays is how long
	// an archive is kept; QuarantineDays how long a removed person's auto
	// extension is kept from reuse.
	RemovedData    Str
	ArchiveDays    Int
	QuarantineDays Int

	Installer *Installer
	Features  Features
}

// Installer is the installer/admin account. It binds devices and never
// answers calls; no user may log in with its email.
type Installer struct {
	Company   Str
	Email     Str
	Phone     Str
	OwnsSite  Bool // visible acknowledgement that the installer is the site's owner
	DeclRange hcl.Range
}

// Features are the site's feature codes, dialled from phones and apps.
type Features struct {
	Voicemail Number // voicemail access; default "*97"
	DeclRange hcl.Range
}

// Residence is a flat, house or office: what a door panel calls.
type Residence struct {
	Name      string
	NameRange hcl.Range
	DeclRange hcl.Range

	Label       Str      // what a visitor keys or picks on the door panel
	Ring        Str      // "simultaneous" (default) or "sequential"
	RingTimeout Duration // total ring time; default 30s
	NoAnswer    Str      // "voicemail" (default) or "hangup"
}

// User is one real person with one login.
type User struct {
	Name      string
	NameRange hcl.Range
	DeclRange hcl.Range

	FirstName       Str
	LastName        Str
	Email           Str // login; unique
	Mobile          Str // E.164
	Residence       *Ref
	Role            Str // owner | admin | user
	Extension       Extension
	App             Bool
	Directory       Bool
	Voicemail       Bool // default true
	NotifyEmail     Str
	SendCredentials Bool
	Numbers         []Number // DDIs
	Conference      Number
	ConferencePIN   Bool // callers other than the owner key the room's PIN
	RingTimeout     Duration
	Rotation        Int // credential rotation counter: +1 rotates this account's passwords
}

// DisplayName is "First Last", or the block name when both are empty.
func (u *User) DisplayName() string {
	switch {
	case u.FirstName.Value != "" && u.LastName.Value != "":
		return u.FirstName.Value + " " + u.LastName.Value
	case u.FirstName.Value != "":
		return u.FirstName.Value
	case u.LastName.Value != "":
		return u.LastName.Value
	}
	return u.Name
}

// Extension is a user's extension: a fixed number or "auto".
type Extension struct {
	Number string // empty when Auto or unset
	Auto   bool
	Set    bool
	Range  hcl.Range
}

// Int is a whole-number attribute.
type Int struct {
	Value int
	Set   bool
	Range hcl.Range
}

// Device is a door station, indoor monitor or desk phone bound by MAC.
type Device struct {
	Name      string
	NameRange hcl.Range
	DeclRange hcl.Range

	Model     Str
	MAC       Str // as written; the compiler canonicalises
	Location  Str
	Label     Str // a desk phone's line label
	Residence *Ref
	User      *Ref
	Keypad    Bool
	Buttons   []*Button
	Relays    []*Relay
	Rotation  Int
	// BLF are the people a desk phone's busy-lamp-field keys watch, in
	// key order; BLFSet tells "blf = []" (no keys) from no attribute (the
	// default: the site's other people), BLFRange where it is written.
	BLF      []*Ref
	BLFSet   bool
	BLFRange hcl.Range
}

// Button is a door-station push button.
type Button struct {
	Label      string // block label, e.g. "1"
	Calls      *Ref   // a residence or a user
	DeclRange  hcl.Range
	LabelRange hcl.Range
}

// Relay is a door-station relay opened by a DTMF code.
type Relay struct {
	Name      string
	NameRange hcl.Range
	DeclRange hcl.Range
	DTMF      Str
	Hold      Duration // default 5s
}

// Trunk is a carrier SIP trunk with its DDI pool.
type Trunk struct {
	Name      string
	NameRange hcl.Range
	DeclRange hcl.Range

	Host      Str
	Port      Number // none: located by DNS SRV, else 5060 (5061 over TLS)
	Transport Str    // udp (default) | tcp | tls
	Username  Secret
	Password  Secret
	Numbers   []Number
	// ShortDial makes the last N digits of each DDI dialable internally.
	ShortDial Int
	// Unassigned is where the carrier's calls to a spare number of the
	// pool (one no user holds) go: a user or a residence; nil answers them
	// 404. UnassignedVoicemail sends them straight to that user's
	// voicemail box instead of ringing.
	Unassigned          *Ref
	UnassignedVoicemail Bool
}

// Variable is a declared input variable. Its value never appears in output
// when Sensitive is set.
type Variable struct {
	Name        string
	NameRange   hcl.Range
	DeclRange   hcl.Range
	Description string
	Sensitive   bool
	HasDefault  bool
}

// LockFileName is the allocation record kept beside the site files and
// committed with them, so that a reviewer sees every number that
// extension = "auto" handed out, and the number stays put afterwards.
const LockFileName = "switchboard.lock.hcl"

// Lock records allocations. Extensions maps a user's block name to the
// number allocated to it. Quarantine holds the auto extensions of removed
// people, which are not handed out again before their Until date, sorted
// by extension.
type Lock struct {
	Extensions map[string]string
	Quarantine []Quarantine
}

// Quarantine is a removed person's auto extension, kept from reuse: a
// caller who still dials it must not reach a newcomer.
type Quarantine struct {
	Extension string
	User      string    // the removed user's block name
	Until     time.Time // the first day it may be handed out again (UTC date)
	Range     hcl.Range
}

// DateLayout is how the lock file writes dates.
const DateLayout = "2006-01-02"

// Offboarding policies: what happens to a removed person's voicemail
// messages, greeting and PIN.
const (
	OffboardArchive = "archive" // kept ArchiveDays for the owner, then deleted (the default)
	OffboardDelete  = "delete"  // deleted when the removal is applied
)

// Defaults of the site's offboarding attributes.
const (
	DefaultArchiveDays    = 30
	DefaultQuarantineDays = 90
)
