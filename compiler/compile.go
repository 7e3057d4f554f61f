package compiler

import (
	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/provision"
	"switchboard/lang"
)

// CompileOptions say how to compile a site.
type CompileOptions struct {
	Lower LowerOptions
	// Key, when set, has the provisioning bundle rendered with the
	// passwords it derives (Compiled.Bundle); without it the bundle is
	// only checked (provision.Check). The diagnostics are the same either
	// way: none depends on a password.
	Key *credentials.Key
}

// Compiled is a site taken through every stage of Compile.
type Compiled struct {
	Checked *Checked          // nil only when cfg was nil
	Program *ir.Program       // nil when an earlier stage had errors
	Bundle  *provision.Bundle // with CompileOptions.Key, when rendering ran
}

// Compile runs every check a site gets, in order: the rules (Check), the
// layout of the dial plan (Lower) and what each device's model can carry
// (provisioning). validate, build, plan and serve all start here, so
// validate reports everything that the others can report about the site
// files, each diagnostic once, at the object it is about; what comes after
// can only fail on the file system. A stage runs only when the ones before
// it had no errors: rules applied to a half-checked site would mostly
// repeat what was already said.
func Compile(cfg *lang.Config, opts CompileOptions) (*Compiled, hcl.Diagnostics) {
	out := &Compiled{}
	if cfg == nil {
		return out, nil
	}
	checked, diags := Check(cfg)
	out.Checked = checked
	if diags.HasErrors() {
		return out, diags
	}
	p, more := Lower(checked, opts.Lower)
	diags = append(diags, more...)
	if more.HasErrors() {
		return out, diags
	}
	out.Program = p
	if opts.Key == nil {
		return out, append(diags, provision.Check(p)...)
	}
	// Rendering once gives both the bundle and its diagnostics: on a large
	// site it is most of the time a build takes.
	b, more := provision.Render(p, credentials.NewSource(*opts.Key, p))
	out.Bundle = b
	return out, append(diags, more...)
}
