package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
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

// trunkSecretsOf reads the trunk credentials of a loaded site: the loader
// has settled each variable from its default, SWITCHBOARD_VAR_<name>,
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
// (a dialplan.json, which names them but holds no value) from the inputs
// the compiler reads, with the same precedence: SWITCHBOARD_VAR_<name>,
// then -var-file files in order, then -var flags. Variable defaults live
// in the site files, which a build directory does not have, so a trunk
// whose credentials are defaults needs them given again here. References
// with no value are left out; the runtime reports them.
func trunkSecretsFromInputs(p *ir.Program, o siteOptions, environ []string) (trunkSecrets, error) {
	want := map[string]ir.SecretRef{}
	for _, t := range p.Trunks {
		for _, ref := range []ir.SecretRef{t.Username, t.Password} {
			if name, ok := strings.CutPrefix(string(ref), "var."); ok && name != "" {
				want[name] = ref
			}
		}
	}
	out := trunkSecrets{}
	if len(want) == 0 {
		return out, nil
	}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if n, found := strings.CutPrefix(name, lang.EnvVarPrefix); ok && found {
			if ref, ok := want[n]; ok {
				out[ref] = val
			}
		}
	}
	for _, path := range o.varFiles {
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading variables: %w", err)
		}
		f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
		if diags.HasErrors() {
			return nil, fmt.Errorf("reading variables: %s", diags.Error())
		}
		attrs, diags := f.Body.JustAttributes()
		if diags.HasErrors() {
			return nil, fmt.Errorf("reading variables: %s", diags.Error())
		}
		for name, a := range attrs {
			ref, ok := want[name]
			if !ok {
				continue // another variable of the site
			}
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
				// The value is not quoted here: it may be the secret.
				return nil, fmt.Errorf("%s: the value of %s must be a string", a.NameRange, name)
			}
			out[ref] = v.AsString()
		}
	}
	for name, val := range o.vars {
		if ref, ok := want[name]; ok {
			out[ref] = val
		}
	}
	return out, nil
}
