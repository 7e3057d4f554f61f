package main

import (
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"switchboard/compiler/ir"
	"switchboard/lang"
	"switchboard/runtime/carrier"
)

// trunkSecrets are the values of the variables trunks take their
// credentials from. serve hands them to the runtime, which registers with
// them at the carrier; they are never printed, logged or written to the
// build.
type trunkSecrets = carrier.TrunkValues

// trunkSecretsOf reads the trunk credentials of a loaded site: lang has
// settled each variable from its default, SWITCHBOARD_VAR_<name>,
// -var-file files and -var flags, in that order.
func trunkSecretsOf(cfg *lang.Config) trunkSecrets {
	out := trunkSecrets{}
	if cfg == nil {
		return out
	}
	for _, t := range cfg.Trunks {
		for _, sec := range []lang.Secret{t.Username, t.Password} {
			if sec.Set && sec.Source != "" {
				out[ir.SecretRef(sec.Source)] = sec.Value
			}
		}
	}
	return out
}

// trunkSecretsFromInputs reads the trunk credentials of a built program
// (a dialplan.json, which names them but holds no value) from the same
// inputs, through lang's own resolution (lang.ResolveVariables): the
// program's secret references are the declarations. They are declared
// sensitive whatever the site said (the dial plan does not record it) so
// that nothing prints them. Variable defaults live in the site files,
// which a build directory does not have, so a trunk whose credentials are
// defaults needs them given again here. References with no value are left
// out; the runtime reports them.
func trunkSecretsFromInputs(p *ir.Program, o siteOptions, environ []string) (trunkSecrets, error) {
	refs := map[string]ir.SecretRef{}
	var decls []lang.VariableDecl
	for _, t := range p.Trunks {
		for _, ref := range []ir.SecretRef{t.Username, t.Password} {
			name, ok := strings.CutPrefix(string(ref), "var.")
			if !ok || name == "" || refs[name] != "" {
				continue
			}
			refs[name] = ref
			decls = append(decls, lang.VariableDecl{Name: name, Type: cty.String, Sensitive: true})
		}
	}
	out := trunkSecrets{}
	if len(decls) == 0 {
		return out, nil
	}
	values, diags := lang.ResolveVariables(decls, lang.Options{Vars: o.vars, VarFiles: o.varFiles, Environ: environ})
	if diags.HasErrors() {
		// lang's messages never quote a value they reject.
		return nil, fmt.Errorf("reading variables: %s", diags.Error())
	}
	for name, v := range values {
		v, _ = v.Unmark()
		out[refs[name]] = v.AsString()
	}
	return out, nil
}
