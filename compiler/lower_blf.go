package compiler

import (
	"switchboard/compiler/ir"
)

// blfKeys are a desk phone's busy-lamp-field keys, numbered from first:
// one per person of its blf list, or, when the device does not set blf,
// the site's other people with an extension in declaration order, as many
// as the model has keys left for (a default must not ask for keys the
// phone does not have) — on a model whose BLF key encoding is known
// (catalogue.Model.BLF) only. Each key watches the person's extension (the
// server's dialog event package) and dials it; its label is their name.
func (l *lowerer) blfKeys(d *Device, first int) []ir.LineKey {
	ld := d.Device
	obj := deviceObject(ld)
	var out []ir.LineKey
	add := func(name string, o ir.Origin) {
		u := l.c.Users[name]
		ext := l.c.Extensions[name]
		if u == nil || ext == "" {
			return
		}
		out = append(out, ir.LineKey{Index: first + len(out), Type: ir.KeyBLF, Value: ext, Label: u.DisplayName(), Origin: o})
	}
	if ld.BLFSet {
		for _, r := range ld.BLF {
			add(r.Name, origin(r.Range, obj))
		}
		return out
	}
	if d.Model == nil || !d.Model.BLF {
		return nil // keys nobody verified are written only when asked for
	}
	room := d.Model.LineKeys - (first - 1)
	for _, u := range l.c.Config.Users {
		if len(out) >= room {
			break
		}
		if ld.User != nil && u.Name == ld.User.Name {
			continue
		}
		add(u.Name, origin(ld.DeclRange, obj))
	}
	return out
}
