package lang

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var userSchema = userBlock.Schema()

// User roles.
const (
	RoleOwner = "owner"
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// AutoExtension asks the compiler to allocate the next free extension.
const AutoExtension = "auto"

func decodeUserBlock(b *hcl.Block, ev *evaluator) (*User, hcl.Diagnostics) {
	u := &User{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(userSchema)
	a := &attrs{m: content.Attributes, decl: b.DefRange, ev: ev, spec: userBlock}
	u.FirstName = a.str("first_name", "")
	u.LastName = a.str("last_name", "")
	u.Email = a.str("email", "")
	u.Mobile = a.str("mobile", "")
	u.Residence = a.ref("residence", "residence")
	u.Role = a.str("role", RoleUser)
	a.oneOf("role", u.Role, RoleOwner, RoleAdmin, RoleUser)
	u.Extension = a.extension("extension")
	u.App = a.boolean("app", false)
	u.Directory = a.boolean("directory", false)
	u.Voicemail = a.boolean("voicemail", true)
	u.NotifyEmail = a.str("notify_email", "")
	u.SendCredentials = a.boolean("send_credentials", false)
	u.Numbers = a.numberList("numbers")
	u.Conference = a.number("conference", "")
	u.ConferencePIN = a.boolean("conference_pin", false)
	u.RingTimeout = a.duration("ring_timeout", 0)
	u.Rotation = a.integer("rotation", 0)
	return u, append(diags, a.diags...)
}

func (a *attrs) extension(name string) Extension {
	a.read(name, `dial number or "auto"`, "")
	v, _, attr := a.get(name, cty.DynamicPseudoType, `a number such as 101, or "auto"`)
	if attr == nil || v == cty.NilVal {
		return Extension{Range: a.rangeOf(attr)}
	}
	if v.Type() == cty.String && v.AsString() == AutoExtension {
		return Extension{Auto: true, Set: true, Range: attr.Expr.Range()}
	}
	s, ok := toDialString(v)
	if !ok || s[0] < '0' || s[0] > '9' {
		a.errorf(attr.Expr.Range(), "Invalid extension", `The %q argument must be a number such as 101, or "auto" to take the next free number.`, name)
		return Extension{Range: attr.Expr.Range()}
	}
	a.leadingZero(attr, name, s)
	return Extension{Number: s, Set: true, Range: attr.Expr.Range()}
}
