package scenario

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"switchboard/compiler/ir"
)

// refKinds are the blocks of a site a scenario can refer to.
var refKinds = []string{"device", "residence", "trunk", "user"}

// resolver resolves the references of one step against the program.
type resolver struct {
	p     *ir.Program
	diags *hcl.Diagnostics
}

func (r *resolver) errorf(rng hcl.Range, summary, format string, args ...any) {
	*r.diags = append(*r.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// ref is a resolved reference: kind.name, and what follows it.
type ref struct {
	kind, name string
	rest       hcl.Traversal // after kind.name: .button["1"], .relay["door"]
	rng        hcl.Range     // the whole expression
}

// ref resolves an attribute written as a reference to one of kinds.
func (r *resolver) ref(attr *hcl.Attribute, kinds ...string) *ref {
	if attr == nil {
		return nil // a missing required argument, reported by hcl
	}
	return r.refExpr(attr.Expr, attr.Name, false, kinds...)
}

// refExpr resolves expr, the value of argument arg (or an element of it),
// as a reference to one of kinds; rest allows a traversal beyond the name.
func (r *resolver) refExpr(expr hcl.Expression, arg string, rest bool, kinds ...string) *ref {
	want := wantRef(kinds)
	trav, d := hcl.AbsTraversalForExpr(expr)
	if d.HasErrors() || len(trav) < 2 {
		detail := fmt.Sprintf("The %q argument must be %s.", arg, want)
		name := ""
		if len(trav) == 1 && !d.HasErrors() {
			name = trav.RootName()
		} else if v, vd := expr.Value(nil); !vd.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			name = v.AsString()
		}
		if name != "" && validName.MatchString(name) {
			for _, k := range kinds {
				if r.exists(k, name) {
					detail += fmt.Sprintf(" Did you mean %s.%s?", k, name)
					break
				}
			}
		}
		r.errorf(expr.Range(), "Invalid reference", "%s", detail)
		return nil
	}
	kind := trav.RootName()
	var name string
	switch step := trav[1].(type) {
	case hcl.TraverseAttr:
		name = step.Name
	case hcl.TraverseIndex:
		if step.Key.Type() == cty.String && step.Key.IsKnown() && !step.Key.IsNull() {
			name = step.Key.AsString()
		}
	}
	head := hcl.RangeBetween(trav[0].SourceRange(), trav[1].SourceRange())
	if !contains(refKinds, kind) {
		detail := fmt.Sprintf("The %q argument must be %s; there is no kind of block called %q.", arg, want, kind)
		if s := suggest(kind, kinds); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		r.errorf(trav[0].SourceRange(), "Invalid reference", "%s", detail)
		return nil
	}
	if name == "" {
		r.errorf(head, "Invalid reference", "The %q argument must be %s.", arg, want)
		return nil
	}
	if !contains(kinds, kind) {
		r.errorf(head, "Invalid reference", "The %q argument must be %s; %s.%s is a %s.", arg, want, kind, name, kind)
		return nil
	}
	if !r.exists(kind, name) {
		detail := fmt.Sprintf("There is no %s named %q in this site.", kind, name)
		if s := suggest(name, r.names(kind)); s != "" {
			detail += fmt.Sprintf(" Did you mean %q?", s)
		}
		r.errorf(head, fmt.Sprintf("Reference to undeclared %s", kind), "%s", detail)
		return nil
	}
	if !rest && len(trav) > 2 {
		r.errorf(expr.Range(), "Invalid reference", "The %q argument must be %s; write %s.%s alone.", arg, want, kind, name)
		return nil
	}
	return &ref{kind: kind, name: name, rest: trav[2:], rng: expr.Range()}
}

func wantRef(kinds []string) string {
	var alts []string
	for _, k := range kinds {
		alts = append(alts, k+".name")
	}
	return "a reference such as " + orList(alts)
}

func orList(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func (r *resolver) exists(kind, name string) bool {
	switch kind {
	case "user":
		return r.p.User(name) != nil
	case "device":
		return r.p.Device(name) != nil
	case "residence":
		return r.p.Residence(name) != nil
	case "trunk":
		return r.p.Trunk(name) != nil
	}
	return false
}

func (r *resolver) names(kind string) []string {
	var out []string
	switch kind {
	case "user":
		for _, u := range r.p.Users {
			out = append(out, u.Name)
		}
	case "device":
		for _, d := range r.p.Devices {
			out = append(out, d.Name)
		}
	case "residence":
		for _, x := range r.p.Residences {
			out = append(out, x.Name)
		}
	case "trunk":
		for _, t := range r.p.Trunks {
			out = append(out, t.Name)
		}
	}
	return out
}

// member resolves the part of a reference after the device name that
// names one of the device's buttons or relays: .button["1"], .relay.door.
// It returns the label and whether the shape was right.
func member(rest hcl.Traversal, what string) (string, bool) {
	if len(rest) != 2 {
		return "", false
	}
	if a, ok := rest[0].(hcl.TraverseAttr); !ok || a.Name != what {
		return "", false
	}
	switch k := rest[1].(type) {
	case hcl.TraverseAttr:
		return k.Name, true
	case hcl.TraverseIndex:
		switch {
		case !k.Key.IsKnown() || k.Key.IsNull():
		case k.Key.Type() == cty.String:
			return k.Key.AsString(), true
		case k.Key.Type() == cty.Number:
			if bf := k.Key.AsBigFloat(); bf.IsInt() && bf.Sign() >= 0 {
				i, _ := bf.Int(nil)
				return i.String(), true
			}
		}
	}
	return "", false
}

// button resolves device.<door>.button["<label>"].
func (r *resolver) button(attr *hcl.Attribute) (*ir.Device, string) {
	return r.deviceMember(attr, "button", "1", func(d *ir.Device) []string {
		var out []string
		for _, b := range d.Buttons {
			out = append(out, b.Label)
		}
		return out
	})
}

// relay resolves device.<door>.relay["<name>"].
func (r *resolver) relay(attr *hcl.Attribute) (*ir.Device, string) {
	return r.deviceMember(attr, "relay", "door", func(d *ir.Device) []string {
		var out []string
		for _, rl := range d.Relays {
			out = append(out, rl.Name)
		}
		return out
	})
}

// deviceMember resolves device.<door>.<kind>["<name>"] against the names
// the device has of that kind, with a did-you-mean when it has none such.
func (r *resolver) deviceMember(attr *hcl.Attribute, kind, example string, members func(*ir.Device) []string) (*ir.Device, string) {
	if attr == nil {
		return nil, ""
	}
	ref := r.refExpr(attr.Expr, attr.Name, true, "device")
	if ref == nil {
		return nil, ""
	}
	dev := r.p.Device(ref.name)
	name, ok := member(ref.rest, kind)
	if !ok {
		r.errorf(ref.rng, "Invalid "+kind+" reference", "The %q argument must name a door station's %s, such as device.%s.%s[%q].", attr.Name, kind, ref.name, kind, example)
		return nil, ""
	}
	names := members(dev)
	for _, n := range names {
		if n == name {
			return dev, name
		}
	}
	rng := hcl.RangeBetween(ref.rest[0].SourceRange(), ref.rest[1].SourceRange())
	summary := "Reference to undeclared " + kind
	if len(names) == 0 {
		r.errorf(rng, summary, "Device %q has no %ss; only door stations with %s blocks do.", dev.Name, kind, kind)
		return nil, ""
	}
	detail := fmt.Sprintf("Device %q has no %s %q; its %ss are %s.", dev.Name, kind, name, kind, quoteList(names))
	if s := suggest(name, names); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	r.errorf(rng, summary, "%s", detail)
	return nil, ""
}

// doorStation checks that a device reference names a door station.
func (r *resolver) doorStation(ref *ref, attr *hcl.Attribute) *ir.Device {
	dev := r.p.Device(ref.name)
	if dev.Kind != ir.DoorStation {
		r.errorf(ref.rng, "Not a door station", "The %q argument must name a door station; %q is %s.", attr.Name, dev.Name, kindText(dev.Kind))
		return nil
	}
	return dev
}

// kindText names a kind of device with its article.
func kindText(k ir.DeviceKind) string {
	switch k {
	case ir.Monitor:
		return "an indoor monitor"
	case ir.Phone:
		return "a phone"
	case ir.DoorStation:
		return "a door station"
	}
	return "a " + string(k) + " device"
}

// code resolves what a visitor keys: digits, or a residence, which the
// visitor reaches by keying its label.
func (r *resolver) code(attr *hcl.Attribute) string {
	if attr == nil {
		return ""
	}
	if len(attr.Expr.Variables()) > 0 {
		ref := r.ref(attr, "residence")
		if ref == nil {
			return ""
		}
		return r.p.Residence(ref.name).Label
	}
	a := &attrs{m: hcl.Attributes{attr.Name: attr}, diags: r.diags}
	s, ok := a.dialString(attr.Name, `the code a visitor keys, such as "104", or the residence it reaches, such as residence.flat-104`)
	if !ok {
		return ""
	}
	return s
}

// caller resolves who places a call: a user (their first endpoint), a
// device or a trunk (the carrier calling in).
func (r *resolver) caller(attr *hcl.Attribute) (account string, door *ir.Device, trunk string) {
	ref := r.ref(attr, "user", "device", "trunk")
	if ref == nil {
		return "", nil, ""
	}
	switch ref.kind {
	case "user":
		u := r.p.User(ref.name)
		if len(u.Endpoints) == 0 {
			r.errorf(ref.rng, "Nothing to call from", "User %q has no app or phone to call from.", u.Name)
			return "", nil, ""
		}
		return u.Endpoints[0], nil, ""
	case "device":
		dev := r.p.Device(ref.name)
		if dev.Kind == ir.DoorStation {
			door = dev
		}
		return dev.Account, door, ""
	}
	return ir.AccountName(ir.AccountTrunk, ref.name), nil, ref.name
}

// callee resolves what a dial step's "to" dials: a user's extension, the
// number that rings a residence, or a door station's own account (a
// resident looking at the door).
func (r *resolver) callee(attr *hcl.Attribute) (string, *ir.Device) {
	ref := r.ref(attr, "user", "residence", "device")
	if ref == nil {
		return "", nil
	}
	switch ref.kind {
	case "user":
		u := r.p.User(ref.name)
		if u.Extension == "" {
			r.errorf(ref.rng, "Nothing to dial", "User %q has no extension; dial one of their numbers with number = … instead.", u.Name)
			return "", nil
		}
		return u.Extension, nil
	case "residence":
		for _, n := range r.p.Numbers {
			if n.Action.Kind == ir.ActionRing && n.Action.Target == ir.ResidenceRef(ref.name) {
				return n.Number, nil
			}
		}
		r.errorf(ref.rng, "Nothing to dial", "Residence %q has no number of its own; visitors reach it from a door station (press or key), residents by their extensions.", ref.name)
		return "", nil
	}
	dev := r.p.Device(ref.name)
	if dev.Kind != ir.DoorStation {
		r.errorf(ref.rng, "Nothing to dial", "Only door stations are called directly, to look at the door and open it; %q is %s. To reach a person, dial their user.", dev.Name, kindText(dev.Kind))
		return "", nil
	}
	return dev.Account, dev
}

// endpoint resolves who answers, declines or sends digits: a device, or a
// user by their first endpoint.
func (r *resolver) endpoint(attr *hcl.Attribute) (string, *ir.User) {
	ref := r.ref(attr, "user", "device")
	if ref == nil {
		return "", nil
	}
	if ref.kind == "device" {
		return r.p.Device(ref.name).Account, nil
	}
	u := r.p.User(ref.name)
	if len(u.Endpoints) == 0 {
		r.errorf(ref.rng, "No endpoint", "User %q has no app or phone of their own; name the device that answers for them instead.", u.Name)
		return "", nil
	}
	return u.Endpoints[0], u
}

// endpoints resolves a list of users, devices and residences into what
// each rings. In order, a residence stands for its ring's legs in turn.
func (r *resolver) endpoints(attr *hcl.Attribute, inOrder bool) []group {
	if attr == nil {
		return nil
	}
	exprs, d := hcl.ExprList(attr.Expr)
	if d.HasErrors() {
		r.errorf(attr.Expr.Range(), "Invalid endpoints", "The %q argument must be a list such as [user.mary, device.monitor-1a, residence.apt-1a].", attr.Name)
		return nil
	}
	if len(exprs) == 0 {
		r.errorf(attr.Expr.Range(), "No endpoints", "The %q list is empty; name the users, devices or residences that ring.", attr.Name)
		return nil
	}
	var groups []group
	for _, e := range exprs {
		ref := r.refExpr(e, attr.Name, false, "user", "device", "residence")
		if ref == nil {
			continue
		}
		switch ref.kind {
		case "user":
			u := r.p.User(ref.name)
			if len(u.Endpoints) == 0 {
				r.errorf(ref.rng, "Nothing rings", "User %q has no app or phone of their own, so nothing rings for them; name the device that rings instead, such as their residence's monitor.", u.Name)
				continue
			}
			groups = append(groups, group{label: "user." + u.Name, accounts: u.Endpoints})
		case "device":
			groups = append(groups, group{label: "device." + ref.name, accounts: []string{r.p.Device(ref.name).Account}})
		case "residence":
			res := r.p.Residence(ref.name)
			all := group{label: "residence." + res.Name}
			for _, l := range res.Ring.Legs {
				if inOrder {
					groups = append(groups, group{label: l.Label, accounts: l.Accounts})
				}
				all.accounts = append(all.accounts, l.Accounts...)
			}
			if len(all.accounts) == 0 {
				r.errorf(ref.rng, "Nothing rings", "Residence %q has no endpoint that rings.", res.Name)
				continue
			}
			if !inOrder {
				groups = append(groups, all)
			}
		}
	}
	return groups
}

// mailbox resolves a user to their voicemail box.
func (r *resolver) mailbox(attr *hcl.Attribute) string {
	ref := r.ref(attr, "user")
	if ref == nil {
		return ""
	}
	u := r.p.User(ref.name)
	if u.Mailbox == "" {
		r.errorf(ref.rng, "No mailbox", "User %q has no voicemail box (voicemail = false).", u.Name)
		return ""
	}
	return u.Mailbox
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// suggest returns the candidate closest to given, if close enough to be a
// likely typo.
func suggest(given string, candidates []string) string {
	best, bestDist := "", 4
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func quoteList(xs []string) string {
	xs = append([]string(nil), xs...)
	sort.Strings(xs)
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
