package lang

import "github.com/hashicorp/hcl/v2"

var trunkSchema = trunkBlock.Schema()

func decodeTrunkBlock(b *hcl.Block, ev *evaluator) (*Trunk, hcl.Diagnostics) {
	t := &Trunk{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(trunkSchema)
	a := &attrs{m: content.Attributes, decl: b.DefRange, ev: ev, spec: trunkBlock}
	t.Host = a.str("host", "")
	t.Port = a.number("port", "") // none: DNS SRV says (RFC 3263)
	t.Transport = a.str("transport", "udp")
	a.oneOf("transport", t.Transport, "udp", "tcp", "tls")
	t.Username = a.secret("username")
	t.Password = a.secret("password")
	t.Numbers = a.numberList("numbers")
	t.ShortDial = a.integer("short_dial", 0)
	t.Unassigned = a.ref("unassigned", "user", "residence")
	t.UnassignedVoicemail = a.boolean("unassigned_voicemail", false)
	return t, append(diags, a.diags...)
}
