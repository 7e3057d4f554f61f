package compiler

import (
	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/ir"
	"switchboard/compiler/provision"
	"switchboard/lang"
)

// Compiled is a site taken through every stage that needs no site key.
type Compiled struct {
	Checked *Checked    // nil only when cfg was nil
	Program *ir.Program // nil when an earlier stage had errors
}

// Compile runs every check a site gets, in order: the rules (Check), the
// layout of the dial plan (Lower) and what each device's model can carry
// (provision.Check, the diagnostics provisioning will give). validate,
// build, plan and serve all start here, so validate reports everything
// that the others can report about the site files, each diagnostic once,
// at the object it is about; what comes after (rendering with the site
// key) can only fail on a bug or the file system. A stage runs only when
// the ones before it had no errors: rules applied to a half-checked site
// would mostly repeat what was already said.
func Compile(cfg *lang.Config, opts LowerOptions) (*Compiled, hcl.Diagnostics) {
	out := &Compiled{}
	if cfg == nil {
		return out, nil
	}
	checked, diags := Check(cfg)
	out.Checked = checked
	if diags.HasErrors() {
		return out, diags
	}
	p, more := Lower(checked, opts)
	diags = append(diags, more...)
	if more.HasErrors() {
		return out, diags
	}
	diags = append(diags, provision.Check(p)...)
	out.Program = p
	return out, diags
}
