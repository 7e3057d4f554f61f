package lang

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var deviceSchema = deviceBlock.Schema()

var buttonSchema = buttonBlock.Schema()

var relaySchema = relayBlock.Schema()

// DefaultRelayHold is how long a relay stays open when nothing else is said.
const DefaultRelayHold = 5 * time.Second

func decodeDeviceBlock(b *hcl.Block, ev *evaluator) (*Device, hcl.Diagnostics) {
	d := &Device{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(deviceSchema)
	a := &attrs{m: content.Attributes, decl: b.DefRange, ev: ev, spec: deviceBlock}
	d.Model = a.str("model", "")
	d.MAC = a.str("mac", "")
	d.Location = a.str("location", "")
	d.Label = a.str("label", "")
	d.Residence = a.ref("residence", "residence")
	d.User = a.ref("user", "user")
	d.Keypad = a.boolean("keypad", false)
	d.Rotation = a.integer("rotation", 0)
	d.BLF, d.BLFSet, d.BLFRange = a.refList("blf", "user")

	buttons := map[string]hcl.Range{}
	relays := map[string]hcl.Range{}
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "button":
			if prev, ok := buttons[blk.Labels[0]]; ok {
				diags = append(diags, duplicateNested("button", blk, prev))
				continue
			}
			buttons[blk.Labels[0]] = blk.DefRange
			c, more := blk.Body.Content(buttonSchema)
			diags = append(diags, more...)
			ba := &attrs{m: c.Attributes, decl: blk.DefRange, outer: []hcl.Range{b.DefRange}, ev: ev, spec: buttonBlock}
			d.Buttons = append(d.Buttons, &Button{
				Label:      blk.Labels[0],
				LabelRange: blk.LabelRanges[0],
				DeclRange:  blk.DefRange,
				Calls:      ba.ref("calls", "residence", "user"),
			})
			diags = append(diags, ba.diags...)
		case "relay":
			if prev, ok := relays[blk.Labels[0]]; ok {
				diags = append(diags, duplicateNested("relay", blk, prev))
				continue
			}
			relays[blk.Labels[0]] = blk.DefRange
			c, more := blk.Body.Content(relaySchema)
			diags = append(diags, more...)
			ra := &attrs{m: c.Attributes, decl: blk.DefRange, outer: []hcl.Range{b.DefRange}, ev: ev, spec: relayBlock}
			d.Relays = append(d.Relays, &Relay{
				Name:      blk.Labels[0],
				NameRange: blk.LabelRanges[0],
				DeclRange: blk.DefRange,
				DTMF:      ra.dtmf("dtmf"),
				Hold:      ra.duration("hold", DefaultRelayHold),
			})
			diags = append(diags, ra.diags...)
		}
	}
	return d, append(diags, a.diags...)
}

// refList reads a list of references to blocks of kind, such as
// [user.mary, user.tom]; each element keeps its own range.
func (a *attrs) refList(name, kind string) ([]*Ref, bool, hcl.Range) {
	a.read(name, "list of references to "+kind, "")
	attr := a.m[name]
	if attr == nil {
		return nil, false, a.decl
	}
	exprs, d := hcl.ExprList(attr.Expr)
	if d.HasErrors() {
		a.errorf(attr.Expr.Range(), "Invalid reference list", "The %q argument must be a list of references such as [%s.name, …].", name, kind)
		return nil, true, attr.Expr.Range()
	}
	var out []*Ref
	for _, e := range exprs {
		v, ok, d := a.ev.value(&hcl.Attribute{Name: name, Expr: e, Range: e.Range(), NameRange: attr.NameRange})
		a.diags = append(a.diags, d...)
		if !ok {
			continue
		}
		v, _ = v.Unmark()
		if v.Type() != refType {
			a.errorf(e.Range(), "Invalid reference", "Each element of %q must be a reference such as %s.name.", name, kind)
			continue
		}
		t := v.EncapsulatedValue().(*refTarget)
		if t.kind != kind {
			a.errorf(e.Range(), "Invalid reference", "Each element of %q must be a reference such as %s.name; %s.%s is a %s.", name, kind, t.kind, t.name, t.kind)
			continue
		}
		out = append(out, &Ref{Kind: t.kind, Name: t.name, Range: e.Range()})
	}
	return out, true, attr.Expr.Range()
}

// dtmf reads a DTMF code; a bare number such as 1234 is accepted for
// convenience, but "#" and "*" need quotes.
// Which codes a relay accepts is the compiler's rule.
func (a *attrs) dtmf(name string) Str {
	a.read(name, "DTMF code", "")
	v, _, attr := a.get(name, cty.DynamicPseudoType, `a DTMF code in quotes such as "#" or "1234"`)
	if attr == nil || v == cty.NilVal {
		return Str{Range: a.rangeOf(attr)}
	}
	if v.Type() == cty.Number {
		if s, ok := toDialString(v); ok {
			return Str{Value: s, Set: true, Range: attr.Expr.Range()}
		}
	}
	if v.Type() != cty.String {
		a.errorf(attr.Expr.Range(), "Incorrect attribute value type", `The %q argument must be a DTMF code in quotes such as "#" or "1234".`, name)
		return Str{Range: attr.Expr.Range()}
	}
	return Str{Value: v.AsString(), Set: true, Range: attr.Expr.Range()}
}

func duplicateNested(typ string, b *hcl.Block, prev hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s", typ),
		Detail:   fmt.Sprintf("This device already has a %s %q, declared at %s.", typ, b.Labels[0], rangeLine(prev)),
		Subject:  b.LabelRanges[0].Ptr(),
	}
}
