package credentials

import (
	"slices"
	"strings"

	"switchboard/compiler/ir"
)

// Source hands out the credentials of one program's accounts. It satisfies
// the password lookup of the provisioning renderers.
type Source struct {
	key  Key
	site string
}

// NewSource binds key to the site of p.
func NewSource(k Key, p *ir.Program) *Source {
	return &Source{key: k, site: p.Site.Name}
}

// SIPPassword is the SIP digest password of account a.
func (s *Source) SIPPassword(a ir.Account) string {
	return s.key.Password(Identity{Site: s.site, Kind: string(a.Kind), Name: a.Name, Purpose: PurposeSIP, Rotation: a.Rotation})
}

// PortalPassword is user u's app and portal login password.
func (s *Source) PortalPassword(u ir.User) string {
	return s.key.Password(Identity{Site: s.site, Kind: "user", Name: u.Name, Purpose: PurposePortal, Rotation: u.Rotation})
}

// InstallerPortalPassword is the installer's portal login password. It
// turns with the site key only (rekey): the installer has no rotation
// counter of their own.
func (s *Source) InstallerPortalPassword() string {
	return s.key.Password(Identity{Site: s.site, Kind: "installer", Name: "installer", Purpose: PurposePortal})
}

// VoicemailPIN is the PIN of mailbox m (rotation: the owner's counter), of
// the given length (4…6).
func (s *Source) VoicemailPIN(m ir.Mailbox, rotation, digits int) string {
	return s.key.PIN(Identity{Site: s.site, Kind: "mailbox", Name: m.Name, Purpose: PurposeVoicemailPIN, Rotation: rotation}, digits)
}

// ConferencePINs are the member and owner PINs of room c (rotation: the
// owner's counter).
func (s *Source) ConferencePINs(c ir.Conference, rotation int) (member, owner string) {
	id := Identity{Site: s.site, Kind: "conference", Name: c.Name, Rotation: rotation}
	id.Purpose = PurposeMemberPIN
	member = s.key.PIN(id, ConferencePINDigits)
	id.Purpose = PurposeOwnerPIN
	owner = s.key.PIN(id, ConferencePINDigits)
	return member, owner
}

// ConferencePINDigits is the length of conference room PINs.
const ConferencePINDigits = 6

// Credential is one login as `switchboard credentials` prints it.
type Credential struct {
	Name     string `json:"name"`      // account name, or "portal.<user>"
	Username string `json:"username"`  // SIP user part, or the login email
	AuthName string `json:"auth_name"` // digest user name
	Password string `json:"password"`
	Domain   string `json:"domain"` // SIP domain / realm
	Kind     string `json:"kind"`   // device | app | trunk | portal | voicemail | conference
	Owner    string `json:"owner"`  // user.<name>, residence.<name>, device.<name>…
}

// KindPortal is the Kind of a user's app/portal login.
const KindPortal = "portal"

// InstallerPortal is the Name of the installer's portal login: not
// "portal.<name>", which a user named "installer" would have.
const InstallerPortal = "installer.portal"

// List derives the credentials of every account of p (SIP) and every user
// with an email (portal login), sorted by Name. The result holds secrets:
// print it only on explicit request.
func List(p *ir.Program, k Key) []Credential {
	s := NewSource(k, p)
	out := make([]Credential, 0, len(p.Accounts)+len(p.Users))
	for _, a := range p.Accounts {
		out = append(out, Credential{
			Name: a.Name, Username: a.Username, AuthName: a.AuthName,
			Password: s.SIPPassword(a), Domain: p.Site.Domain,
			Kind: string(a.Kind), Owner: a.Owner.String(),
		})
	}
	for _, u := range p.Users {
		if u.Email == "" {
			continue
		}
		out = append(out, Credential{
			Name: KindPortal + "." + u.Name, Username: u.Email, AuthName: u.Email,
			Password: s.PortalPassword(u), Domain: p.Site.Domain,
			Kind: KindPortal, Owner: ir.UserRef(u.Name).String(),
		})
	}
	if in := p.Site.Installer; in != nil && in.Email != "" {
		// The installer's portal login (the operator view): never a
		// resident's, so never any user's password.
		out = append(out, Credential{
			Name: InstallerPortal, Username: in.Email, AuthName: in.Email,
			Password: s.InstallerPortalPassword(), Domain: p.Site.Domain,
			Kind: KindPortal, Owner: "installer",
		})
	}
	for _, m := range p.Mailboxes {
		owner := p.User(m.Owner.Name)
		if owner == nil {
			continue
		}
		// The box's PIN, delivered with the owner's logins: the mailbox
		// number is the owner's extension.
		out = append(out, Credential{
			Name: KindVoicemail + "." + m.Name, Username: owner.Extension, AuthName: owner.Extension,
			Password: s.VoicemailPIN(m, owner.Rotation, VoicemailPINDigits), Domain: p.Site.Domain,
			Kind: KindVoicemail, Owner: m.Owner.String(),
		})
	}
	for _, c := range p.Conferences {
		if !c.PIN {
			continue
		}
		rotation := 0
		if u := p.User(c.Owner.Name); u != nil {
			rotation = u.Rotation
		}
		member, owner := s.ConferencePINs(c, rotation)
		out = append(out,
			Credential{Name: KindConference + "." + c.Name, Username: c.Number, AuthName: c.Number, Password: member, Domain: p.Site.Domain, Kind: KindConference, Owner: c.Owner.String()},
			Credential{Name: KindConference + "-owner." + c.Name, Username: c.Number, AuthName: c.Number, Password: owner, Domain: p.Site.Domain, Kind: KindConference, Owner: c.Owner.String()},
		)
	}
	slices.SortFunc(out, func(a, b Credential) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// KindConference is the Kind of a conference room's PINs: conference.<room>
// for members, conference-owner.<room> for its owner.
const KindConference = "conference"

// ConferencePINs returns the member and owner PINs of the named room; ok is
// false for a room the program does not have or one without a PIN.
func (l *Lookup) ConferencePINs(room string) (member, owner string, ok bool) {
	c := l.p.Conference(room)
	if c == nil || !c.PIN {
		return "", "", false
	}
	rotation := 0
	if u := l.p.User(c.Owner.Name); u != nil {
		rotation = u.Rotation
	}
	member, owner = l.src.ConferencePINs(*c, rotation)
	return member, owner, true
}

// KindVoicemail is the Kind of a mailbox's PIN.
const KindVoicemail = "voicemail"

// VoicemailPINDigits is the length of the PINs mailboxes start with.
const VoicemailPINDigits = 6

// VoicemailPIN returns the initial PIN of the named mailbox; ok is false
// for a mailbox the program does not have.
func (l *Lookup) VoicemailPIN(box string) (pin string, ok bool) {
	m := l.p.Mailbox(box)
	if m == nil {
		return "", false
	}
	rotation := 0
	if u := l.p.User(m.Owner.Name); u != nil {
		rotation = u.Rotation
	}
	return l.src.VoicemailPIN(*m, rotation, VoicemailPINDigits), true
}

// Filter keeps the credentials that match one of names, in list order. A
// name matches a credential by its full name ("app.mary"), its owner
// ("user.mary") or the bare name of either ("mary" matches app.mary,
// portal.mary and device.desk-101 owned by user.mary). It also returns the
// names that matched nothing, in the order given. With no names it returns
// list unchanged.
func Filter(list []Credential, names []string) (matched []Credential, unknown []string) {
	if len(names) == 0 {
		return list, nil
	}
	used := make([]bool, len(names))
	for _, c := range list {
		keep := false
		for i, n := range names {
			if matches(c, n) {
				used[i], keep = true, true
			}
		}
		if keep {
			matched = append(matched, c)
		}
	}
	for i, n := range names {
		if !used[i] {
			unknown = append(unknown, n)
		}
	}
	return matched, unknown
}

func matches(c Credential, name string) bool {
	if name == c.Name || name == c.Owner {
		return true
	}
	_, n, _ := strings.Cut(c.Name, ".")
	_, o, _ := strings.Cut(c.Owner, ".")
	return name == n || name == o
}

// Lookup finds SIP passwords by account name, which is how the runtime's
// registrar and authenticator and the simulated devices ask for them.
type Lookup struct {
	p   *ir.Program
	src *Source
}

// NewLookup binds key to the accounts of p.
func NewLookup(k Key, p *ir.Program) *Lookup {
	return &Lookup{p: p, src: NewSource(k, p)}
}

// SIPPassword returns the SIP password of the named account; ok is false
// for an account the program does not have.
func (l *Lookup) SIPPassword(account string) (password string, ok bool) {
	a := l.p.Account(account)
	if a == nil {
		return "", false
	}
	return l.src.SIPPassword(*a), true
}

// PortalPassword returns the derived portal password of the named user;
// ok is false for a user the program does not have or one without an
// email (no login).
func (l *Lookup) PortalPassword(user string) (string, bool) {
	u := l.p.User(user)
	if u == nil || u.Email == "" {
		return "", false
	}
	return l.src.PortalPassword(*u), true
}

// InstallerPortalPassword returns the installer's derived portal
// password; ok is false when the site names no installer email.
func (l *Lookup) InstallerPortalPassword() (string, bool) {
	if in := l.p.Site.Installer; in == nil || in.Email == "" {
		return "", false
	}
	return l.src.InstallerPortalPassword(), true
}
