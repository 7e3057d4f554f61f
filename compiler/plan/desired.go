// Package plan computes what `switchboard apply` would change: the diff of
// the compiled site (the desired objects) against the applied state, per
// object — create, update, delete, or replace (a device whose MAC or model
// changes) — with attribute-level detail and a summary in plain words about
// people ("Tom Price: extension 212 → 213"). It renders nothing: the CLI
// turns a Plan into text or JSON.
//
// An object is one user, residence, device, trunk, conference room or the
// site itself. Its attributes are the IR's values flattened to dotted paths
// (ring.timeout, relays[0].dtmf), JSON-encoded, together with the IR nodes
// that belong to it (a user's app account and DDIs, a device's SIP account
// and door entries). Credentials and provisioning files appear as keyed
// fingerprints (see Fingerprinter): they change when a password or a file
// changes, and say nothing without the site key. A plan, a saved plan and a
// state therefore never hold a secret.
package plan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/provision"
)

// Kind is the kind of an object.
type Kind string

const (
	KindSite       Kind = "site"
	KindUser       Kind = "user"
	KindResidence  Kind = "residence"
	KindDevice     Kind = "device"
	KindTrunk      Kind = "trunk"
	KindConference Kind = "conference"
)

// Attribute names with a meaning of their own.
const (
	// AttrFiles is the keyed digest of an object's provisioning files.
	AttrFiles = "provisioning_files"
	// AttrInvitation is where a user's invitation goes: `"sent to ADDR"`
	// when the user has send_credentials. Apply records `"not sent"` when
	// it could not send one, so the plan keeps showing it as due.
	AttrInvitation = "invitation"
	// AttrDoorStations lists the door stations whose calls ring a user.
	AttrDoorStations = "door_stations"
	// AttrOwner and AttrOwnerName, on the site, say who owns it: "user.NAME"
	// and their name, or "installer" and the installer's company.
	AttrOwner     = "owner"
	AttrOwnerName = "owner_name"
	// AttrSiteKey, on the site, is the site key's public fingerprint.
	AttrSiteKey = "site_key"
)

// OwnerInstaller is the value of AttrOwner when the installer owns the
// site (owns_site = true and no owner user).
const OwnerInstaller = "installer"

// siteOwner records who owns the site: the user with role owner, else the
// installer when it owns the site; nothing when the site names neither.
func siteOwner(attrs map[string]string, p *ir.Program) {
	for _, u := range p.Users {
		if ir.Role(u.Role) == ir.RoleOwner {
			attrs[AttrOwner] = quote("user." + u.Name)
			attrs[AttrOwnerName] = quote(firstNonEmpty(u.DisplayName, u.Name))
			return
		}
	}
	if in := p.Site.Installer; in != nil && in.OwnsSite {
		attrs[AttrOwner] = quote(OwnerInstaller)
		attrs[AttrOwnerName] = quote(in.Company)
	}
}

// InvitationInPerson is the desired and state value of AttrInvitation
// for a person without an e-mail address: the installer hands their
// invitation over in person (the handover sheet lists it).
const InvitationInPerson = `"to hand over in person"`

// InvitationHeldPrefix begins the state value of AttrInvitation for an
// invitation apply held back because a device that rings the person was
// not reached: `"held: device \"gate\" was not reached (unreachable)"`.
const InvitationHeldPrefix = "held: "

// InvitationNotSent is the state value of AttrInvitation for an invitation
// that is due but was not sent.
const InvitationNotSent = `"not sent"`

// Sensitive reports whether an attribute holds a credential fingerprint:
// its value is never shown.
func Sensitive(name string) bool {
	return name == "password" || strings.HasSuffix(name, ".password")
}

// Opaque reports whether an attribute is a digest, shown only as changed.
func Opaque(name string) bool { return name == AttrFiles || Sensitive(name) }

// ForcesReplacement reports whether a change of the attribute replaces the
// object: a device with another MAC or model is another device.
func ForcesReplacement(k Kind, name string) bool {
	return k == KindDevice && (name == "mac" || name == "model" || name == "vendor")
}

// Object is one object of the desired site.
type Object struct {
	Address string // "<kind>.<name>"
	Kind    Kind
	Name    string
	// Label is what people call it: a user's full name, a residence's
	// label, the site's name.
	Label string
	// Attributes are JSON-encoded values by dotted path.
	Attributes map[string]string
	// DeviceKind and Vendor are set for devices.
	DeviceKind ir.DeviceKind
	Vendor     string
	// Files are a device's (or, for the site, the common) provisioning
	// file paths.
	Files []string
}

// Desired is the compiled site as objects.
type Desired struct {
	Site        string // block label
	DisplayName string
	Objects     []Object // sorted by Address
	// Hash identifies the desired configuration: a saved plan is applied
	// only while the site compiles to the same hash.
	Hash string
	// Offboarding is Input.Offboarding.
	Offboarding *Offboarding
}

// Object returns the object at address, or nil.
func (d *Desired) Object(address string) *Object {
	i, ok := slices.BinarySearchFunc(d.Objects, address, func(o Object, a string) int { return strings.Compare(o.Address, a) })
	if !ok {
		return nil
	}
	return &d.Objects[i]
}

// Input is what NewDesired needs.
type Input struct {
	Program *ir.Program
	Bundle  *provision.Bundle
	Key     credentials.Key
	// Invites maps a user name to the address invitations go to, for users
	// with send_credentials (see Invites).
	Invites map[string]string
	// Offboarding, when set, is the policy for removed people's data: the
	// plan then lists, for each person removed, what happens to their
	// data, numbers and logins (Change.Offboard).
	Offboarding *Offboarding
}

// Invites returns, for every user of p with send_credentials = true, the
// address their invitation goes to: notify_email when set, else email.
func Invites(p *ir.Program) map[string]string {
	out := map[string]string{}
	if p == nil {
		return out
	}
	for _, u := range p.Users {
		if !u.SendCredentials {
			continue
		}
		to := u.NotifyEmail
		if to == "" {
			to = u.Email
		}
		// Empty for a person with no e-mail address: their invitation is
		// handed over in person (InvitationInPerson).
		out[u.Name] = to
	}
	return out
}

// Fingerprinter makes keyed fingerprints: HMAC-SHA-256 under a key derived
// from the site key for this purpose only. Without the site key a
// fingerprint cannot be checked against a guess.
type Fingerprinter struct{ key []byte }

// purposeFingerprint separates the fingerprint key from every password.
const purposeFingerprint credentials.Purpose = "state-fingerprint"

// NewFingerprinter derives the fingerprint key of site from k.
func NewFingerprinter(k credentials.Key, site string) Fingerprinter {
	secret := k.Password(credentials.Identity{Site: site, Kind: "state", Name: "fingerprint", Purpose: purposeFingerprint})
	return Fingerprinter{key: []byte(secret)}
}

// Sum fingerprints parts (length-prefixed, so parts cannot run together).
func (f Fingerprinter) Sum(parts ...[]byte) string {
	m := hmac.New(sha256.New, f.key)
	for _, p := range parts {
		fmt.Fprintf(m, "%d:", len(p))
		m.Write(p)
	}
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil)[:16])
}

// NewDesired turns a compiled site into objects.
func NewDesired(in Input) *Desired {
	p := in.Program
	fp := NewFingerprinter(in.Key, p.Site.Name)
	src := credentials.NewSource(in.Key, p)
	b := &builder{objects: map[string]*Object{}}

	siteAddr := string(KindSite) + "." + p.Site.Name
	site := b.object(KindSite, p.Site.Name, firstNonEmpty(p.Site.DisplayName, p.Site.Name))
	flattenInto(site.Attributes, "", p.Site, "name")
	// The installer's login stays out of plans, which reviewers read (as it
	// stays out of invitations); the company and owns_site say who owns.
	delete(site.Attributes, "installer.email")
	delete(site.Attributes, "installer.phone")
	siteOwner(site.Attributes, p)
	if !in.Key.IsZero() {
		// The key's public fingerprint: when it changes, every password
		// does, and the plan says why (see Plan.Rekeyed).
		site.Attributes[AttrSiteKey] = quote(in.Key.Fingerprint())
	}

	for _, r := range p.Residences {
		o := b.object(KindResidence, r.Name, firstNonEmpty(r.Label, r.Name))
		flattenInto(o.Attributes, "", r, "name")
	}
	for _, t := range p.Trunks {
		o := b.object(KindTrunk, t.Name, t.Name)
		flattenInto(o.Attributes, "", t, "name", "username", "password")
		// Inputs the server reads when it starts: the plan names where they
		// come from, never their value (which it does not have).
		if t.Username != "" {
			o.Attributes["username"] = reference(string(t.Username))
		}
		if t.Password != "" {
			o.Attributes["password"] = reference(string(t.Password))
		}
	}
	for _, c := range p.Conferences {
		o := b.object(KindConference, c.Name, c.Name)
		flattenInto(o.Attributes, "", c, "name")
	}
	for _, d := range p.Devices {
		o := b.object(KindDevice, d.Name, d.Name)
		o.DeviceKind, o.Vendor = d.Kind, d.Vendor
		flattenInto(o.Attributes, "", d, "name", "account")
	}
	for _, u := range p.Users {
		o := b.object(KindUser, u.Name, firstNonEmpty(u.DisplayName, u.Name))
		// send_credentials is shown as the invitation attribute below.
		flattenInto(o.Attributes, "", u, "name", "send_credentials")
		if u.Email != "" {
			o.Attributes["portal.password"] = quote(fp.Sum([]byte(src.PortalPassword(u))))
		}
		if to, ok := in.Invites[u.Name]; ok {
			o.Attributes[AttrInvitation] = quote("sent to " + to)
			if to == "" {
				o.Attributes[AttrInvitation] = InvitationInPerson
			}
		}
	}

	// Accounts belong to their device, user (app) or trunk.
	for _, a := range p.Accounts {
		owner, prefix := siteAddr, "accounts."+a.Name+"."
		switch {
		case a.Kind == ir.AccountDevice && b.objects["device."+a.Device] != nil:
			owner, prefix = "device."+a.Device, "account."
		case a.Kind == ir.AccountApp && a.Owner.Kind == ir.RefUser && b.objects[a.Owner.String()] != nil:
			owner, prefix = a.Owner.String(), "app."
		case a.Kind == ir.AccountTrunk && a.Owner.Kind == ir.RefTrunk && b.objects[a.Owner.String()] != nil:
			owner, prefix = a.Owner.String(), "account."
		}
		attrs := b.objects[owner].Attributes
		// The caller ID follows from the owner's name and extension, or the
		// device's location, each a change of its own already: listed
		// again it would only double the plan.
		flattenInto(attrs, strings.TrimSuffix(prefix, "."), a, "name", "kind", "owner", "device", "caller_name", "caller_number")
		attrs[prefix+"password"] = quote(fp.Sum([]byte(src.SIPPassword(a))))
	}
	// Mailboxes belong to their owner.
	for _, m := range p.Mailboxes {
		if o := b.objects[m.Owner.String()]; o != nil && m.Name == userMailbox(p, m.Owner) {
			continue // the user's mailbox attribute names it
		}
		flattenInto(b.objects[siteAddr].Attributes, "mailboxes."+m.Name, m, "name")
	}
	// Dialled numbers belong to what they ring.
	for _, n := range p.Numbers {
		owner := siteAddr
		if o := b.objects[n.Action.Target.String()]; o != nil {
			owner = o.Address
		}
		b.objects[owner].Attributes["numbers."+n.Number] = quote(actionText(n.Action))
	}
	// Door entries belong to their door station.
	for _, e := range p.Entries {
		owner, key := "device."+e.Device, "entries."+e.Code
		if b.objects[owner] == nil {
			owner, key = siteAddr, "entries."+e.Device+"."+e.Code
		}
		b.objects[owner].Attributes[key] = quote(e.Target.String())
	}
	// Carrier numbers belong to the user they reach.
	ddis := map[string][]string{}
	for _, d := range p.DDIs {
		if o := b.objects[d.Target.String()]; o != nil {
			ddis[o.Address] = append(ddis[o.Address], d.Number+" via "+d.Trunk)
			continue
		}
		b.objects[siteAddr].Attributes["ddis."+d.Number] = quote(d.Target.String() + " via " + d.Trunk)
	}
	for addr, list := range ddis {
		slices.Sort(list)
		b.objects[addr].Attributes["ddis"] = jsonText(list)
	}
	// Who hears each door station.
	for user, devices := range doorStations(p) {
		if o := b.objects["user."+user]; o != nil {
			o.Attributes[AttrDoorStations] = jsonText(devices)
		}
	}
	// Provisioning files.
	if in.Bundle != nil {
		files := map[string][]provision.File{}
		for _, f := range in.Bundle.Files {
			owner := siteAddr
			if f.Device != "" && b.objects["device."+f.Device] != nil {
				owner = "device." + f.Device
			}
			files[owner] = append(files[owner], f)
		}
		for addr, fs := range files {
			o := b.objects[addr]
			var parts [][]byte
			for _, f := range fs {
				o.Files = append(o.Files, f.Path)
				parts = append(parts, []byte(f.Path), []byte(f.Mode.String()), f.Data)
			}
			o.Attributes["files"] = jsonText(o.Files)
			o.Attributes[AttrFiles] = quote(fp.Sum(parts...))
		}
	}

	d := &Desired{Site: p.Site.Name, DisplayName: firstNonEmpty(p.Site.DisplayName, p.Site.Name), Offboarding: in.Offboarding}
	for _, addr := range slices.Sorted(maps.Keys(b.objects)) {
		d.Objects = append(d.Objects, *b.objects[addr])
	}
	d.Hash = hashObjects(d)
	return d
}

func userMailbox(p *ir.Program, owner ir.Ref) string {
	if owner.Kind != ir.RefUser {
		return ""
	}
	if u := p.User(owner.Name); u != nil {
		return u.Mailbox
	}
	return ""
}

// doorStations maps each user to the door stations whose calls ring them,
// sorted: through an entry to the user, or to a residence whose ring has a
// leg for the user.
func doorStations(p *ir.Program) map[string][]string {
	out := map[string]map[string]bool{}
	add := func(user, device string) {
		if out[user] == nil {
			out[user] = map[string]bool{}
		}
		out[user][device] = true
	}
	for _, e := range p.Entries {
		switch e.Target.Kind {
		case ir.RefUser:
			add(e.Target.Name, e.Device)
		case ir.RefResidence:
			r := p.Residence(e.Target.Name)
			if r == nil {
				continue
			}
			for _, leg := range r.Ring.Legs {
				if ref, err := ir.ParseRef(leg.Label); err == nil && ref.Kind == ir.RefUser {
					add(ref.Name, e.Device)
				}
			}
		}
	}
	res := map[string][]string{}
	for u, set := range out {
		res[u] = slices.Sorted(maps.Keys(set))
	}
	return res
}

func actionText(a ir.Action) string {
	if a.Target.IsZero() {
		return string(a.Kind)
	}
	return string(a.Kind) + " " + a.Target.String()
}

type builder struct {
	objects map[string]*Object
}

func (b *builder) object(k Kind, name, label string) *Object {
	o := &Object{Address: string(k) + "." + name, Kind: k, Name: name, Label: label, Attributes: map[string]string{}}
	b.objects[o.Address] = o
	return o
}

// hashObjects is the SHA-256 of the objects' canonical JSON. The values
// are IR values and keyed fingerprints, so the hash reveals no secret.
func hashObjects(d *Desired) string {
	type entry struct {
		Address    string            `json:"address"`
		Attributes map[string]string `json:"attributes"`
	}
	list := []entry{{Address: "site", Attributes: map[string]string{"name": d.Site}}}
	for _, o := range d.Objects {
		list = append(list, entry{o.Address, o.Attributes})
	}
	data, _ := json.Marshal(list)
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// flattenInto writes v's fields into attrs under prefix: nested objects as
// dotted paths, lists of scalars as one JSON list, lists of objects by
// index. Origins and the named top-level fields are left out, and so are
// empty values.
func flattenInto(attrs map[string]string, prefix string, v any, skip ...string) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("plan: %v", err))
	}
	var generic any
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		panic(fmt.Sprintf("plan: %v", err))
	}
	m, ok := generic.(map[string]any)
	if !ok {
		attrs[prefix] = jsonText(generic)
		return
	}
	for _, s := range skip {
		delete(m, s)
	}
	flatten(attrs, prefix, m)
}

func flatten(attrs map[string]string, path string, v any) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if k == "origin" {
				continue
			}
			flatten(attrs, join(k), e)
		}
	case []any:
		if len(x) == 0 {
			return
		}
		scalars := true
		for _, e := range x {
			switch e.(type) {
			case map[string]any, []any:
				scalars = false
			}
		}
		if scalars {
			attrs[path] = jsonText(x)
			return
		}
		for i, e := range x {
			flatten(attrs, fmt.Sprintf("%s[%s]", path, elementKey(path, i, e)), e)
		}
	case nil:
	case string:
		if x != "" {
			attrs[path] = jsonText(x)
		}
	default:
		attrs[path] = jsonText(x)
	}
}

// elementKey names an element of a list of objects: by its name or label,
// so that removing one element does not shift the others, except where
// the order is meaning (ring legs), by position.
func elementKey(path string, i int, e any) string {
	m, _ := e.(map[string]any)
	if !strings.HasSuffix(path, "legs") {
		for _, k := range []string{"name", "label"} {
			if s, ok := m[k].(string); ok && s != "" && !strings.ContainsAny(s, "[]") {
				return s
			}
		}
	}
	return fmt.Sprint(i)
}

func jsonText(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("plan: %v", err))
	}
	return string(data)
}

func quote(s string) string { return jsonText(s) }

// reference is the attribute value of an input named by ref ("var.x"):
// {"from":"var.x"}. No other attribute value is a JSON object (objects are
// flattened to dotted paths), so a reference is never mistaken for one.
func reference(ref string) string { return jsonText(map[string]string{"from": ref}) }

// Reference reports whether an attribute value is a reference to an input
// (see reference), and to which: "var.trunk_user".
func Reference(v string) (string, bool) {
	if !strings.HasPrefix(v, "{") {
		return "", false
	}
	var r map[string]string
	if json.Unmarshal([]byte(v), &r) != nil || len(r) != 1 || r["from"] == "" {
		return "", false
	}
	return r["from"], true
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
