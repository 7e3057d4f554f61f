package lang

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var variableSchema = variableBlock.Schema()

type variableDecl struct {
	v   *Variable
	typ cty.Type
	def cty.Value
	// badDefault suppresses "no value" after an invalid default was reported.
	badDefault bool
	defRange   *hcl.Range // the default's expression, when there is one
}

// decodeVariables decodes the variable blocks and settles each variable's
// value (see settleVariables). Values of sensitive variables carry
// sensitiveMark, and every later use of them keeps it.
func decodeVariables(blocks []*hcl.Block, opts Options, files map[string]*hcl.File, ev *evaluator) ([]*Variable, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	decls := map[string]*variableDecl{}
	var out []*Variable
	for _, b := range blocks {
		d, more := decodeVariableBlock(b)
		diags = append(diags, more...)
		if d == nil {
			continue
		}
		if prev, ok := decls[d.v.Name]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate variable",
				Detail:   fmt.Sprintf("A variable named %q was already declared at %s.", d.v.Name, rangeLine(prev.v.NameRange)),
				Subject:  d.v.NameRange.Ptr(),
			})
			continue
		}
		if d.v.Sensitive && d.defRange != nil {
			ev.sensitiveText = append(ev.sensitiveText, *d.defRange)
		}
		decls[d.v.Name] = d
		out = append(out, d.v)
	}

	values, failed, inFiles, more := settleVariables(decls, opts, files, true)
	diags = append(diags, more...)
	for _, s := range inFiles {
		if s.decl == nil || s.decl.v.Sensitive {
			ev.sensitiveText = append(ev.sensitiveText, *s.rng)
		}
	}

	for _, v := range out {
		d := decls[v.Name]
		val := d.def
		if s, ok := values[v.Name]; ok && s.val != cty.NilVal {
			val = s.val
		}
		if (val == cty.NilVal || val.IsNull()) && !d.badDefault && !failed[v.Name] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail:   fmt.Sprintf("The variable %q has no default, so it must be set with -var %s=…, a -var-file, or the environment variable %s%s.", v.Name, v.Name, EnvVarPrefix, v.Name),
				Subject:  v.DeclRange.Ptr(),
			})
			val = cty.UnknownVal(d.typ)
		}
		if val == cty.NilVal || val.IsNull() {
			val = cty.UnknownVal(d.typ)
		}
		if v.Sensitive {
			val = val.Mark(sensitiveMark)
		}
		ev.vars[v.Name] = val
	}
	return out, diags
}

// setting is a variable's value as one input gave it.
type setting struct {
	val  cty.Value
	rng  *hcl.Range // the value in a -var-file; nil for -var and the environment
	decl *variableDecl
}

// settleVariables reads the values decls get from opts. Later sources win,
// as in Terraform: the environment (SWITCHBOARD_VAR_name), then -var-file
// files in order, then -var flags; the caller applies defaults. failed
// holds variables whose given value was rejected: that error stands for
// them, and "no value" would only repeat it. inFiles lists every value
// written in a -var-file, with a nil decl for names not in decls, so that
// the caller can mask the text of those not known to be public.
//
// strict is true when decls are all the site's variables, so that a value
// for any other name is a mistake worth reporting; a caller that asks for
// some variables only (ResolveVariables) ignores the others.
func settleVariables(decls map[string]*variableDecl, opts Options, files map[string]*hcl.File, strict bool) (values map[string]setting, failed map[string]bool, inFiles []setting, diags hcl.Diagnostics) {
	values = map[string]setting{}
	failed = map[string]bool{}

	for _, kv := range opts.Environ {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvVarPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvVarPrefix)
		d, ok := decls[name]
		if !ok {
			continue // the environment is shared with other sites and tools
		}
		v, more := parseRawVariable(d, raw, "environment variable "+EnvVarPrefix+name)
		diags = append(diags, more...)
		failed[name] = more.HasErrors()
		values[name] = setting{val: v, decl: d}
	}

	for _, path := range opts.VarFiles {
		src, err := os.ReadFile(path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read variables file",
				Detail:   fmt.Sprintf("Reading %q failed: %s.", path, errText(err)),
			})
			continue
		}
		f, more := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
		diags = append(diags, more...)
		if f == nil {
			continue
		}
		files[path] = f
		as, more := f.Body.JustAttributes()
		diags = append(diags, more...)
		for _, name := range sortedAttrNames(as) {
			a := as[name]
			r := a.Expr.Range()
			d, ok := decls[name]
			inFiles = append(inFiles, setting{rng: &r, decl: d})
			if !ok {
				if strict {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagWarning,
						Summary:  "Value for undeclared variable",
						Detail:   fmt.Sprintf("The site declares no variable named %q, so this value is ignored.%s", name, didYouMean(name, keys(decls))),
						Subject:  a.NameRange.Ptr(),
					})
				}
				continue
			}
			v, more := a.Expr.Value(nil)
			diags = append(diags, more...)
			if more.HasErrors() {
				failed[name] = true
				continue
			}
			cv, err := convert.Convert(v, d.typ)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid value for variable",
					Detail:   fmt.Sprintf("The value for variable %q is not %s: %s.", name, typeName(d.typ), err),
					Subject:  r.Ptr(),
					// cty's conversion errors name types, never values.
					Extra: QuotesNoValue{},
				})
				failed[name] = true
				continue
			}
			failed[name] = false
			values[name] = setting{val: cv, rng: &r, decl: d}
		}
	}

	for _, name := range sortedKeys(opts.Vars) {
		d, ok := decls[name]
		if !ok {
			if strict {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Value for undeclared variable",
					Detail:   fmt.Sprintf("A value was given with -var for %q, but the site declares no such variable.%s", name, didYouMean(name, keys(decls))),
				})
			}
			continue
		}
		v, more := parseRawVariable(d, opts.Vars[name], "-var "+name)
		diags = append(diags, more...)
		failed[name] = more.HasErrors()
		values[name] = setting{val: v, decl: d}
	}
	return values, failed, inFiles, diags
}

// VariableDecl declares a variable to ResolveVariables.
type VariableDecl struct {
	Name      string
	Type      cty.Type // cty.DynamicPseudoType for any
	Sensitive bool
}

// ResolveVariables settles the values of decls from opts with the same
// precedence, parsing and diagnostics as Load (SWITCHBOARD_VAR_<name>, then
// -var-file files in order, then -var flags), for a caller that has no site
// files: serve given a build directory reads the values of the variables
// the compiled dial plan names. Values for other names are ignored (the
// inputs may set other variables of the site); a variable given no value
// is left out of the result. Values of sensitive variables carry the
// sensitive mark, as in Load.
func ResolveVariables(decls []VariableDecl, opts Options) (map[string]cty.Value, hcl.Diagnostics) {
	m := map[string]*variableDecl{}
	for _, d := range decls {
		typ := d.Type
		if typ == cty.NilType {
			typ = cty.DynamicPseudoType
		}
		m[d.Name] = &variableDecl{v: &Variable{Name: d.Name, Sensitive: d.Sensitive}, typ: typ}
	}
	values, failed, _, diags := settleVariables(m, opts, map[string]*hcl.File{}, false)
	out := map[string]cty.Value{}
	for name, s := range values {
		if failed[name] || s.val == cty.NilVal || s.val.IsNull() {
			continue
		}
		v := s.val
		if s.decl.v.Sensitive {
			v = v.Mark(sensitiveMark)
		}
		out[name] = v
	}
	return out, diags
}

func decodeVariableBlock(b *hcl.Block) (*variableDecl, hcl.Diagnostics) {
	content, diags := b.Body.Content(variableSchema)
	v := &Variable{Name: b.Labels[0], NameRange: b.LabelRanges[0], DeclRange: b.DefRange}
	if !hclsyntaxValidName(v.Name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid variable name",
			Detail:   fmt.Sprintf("%q is not a valid variable name: use letters, digits, underscores and dashes, starting with a letter.", v.Name),
			Subject:  b.LabelRanges[0].Ptr(),
		})
		return nil, diags
	}
	d := &variableDecl{v: v, typ: cty.DynamicPseudoType}
	if a := content.Attributes["type"]; a != nil {
		ty, more := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, more...)
		if !more.HasErrors() {
			d.typ = ty
		}
	}
	if a := content.Attributes["description"]; a != nil {
		val, more := a.Expr.Value(nil)
		diags = append(diags, more...)
		if !more.HasErrors() && val.Type() == cty.String && !val.IsNull() {
			v.Description = val.AsString()
		}
	}
	if a := content.Attributes["sensitive"]; a != nil {
		val, more := a.Expr.Value(nil)
		diags = append(diags, more...)
		if !more.HasErrors() {
			if val.Type() != cty.Bool || val.IsNull() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Incorrect attribute value type",
					Detail:   `The "sensitive" argument must be true or false.`,
					Subject:  a.Expr.Range().Ptr(),
				})
			} else {
				v.Sensitive = val.True()
			}
		}
	}
	if a := content.Attributes["default"]; a != nil {
		r := a.Expr.Range()
		d.defRange = &r
		val, more := a.Expr.Value(nil)
		diags = append(diags, more...)
		if !more.HasErrors() && !val.IsNull() {
			cv, err := convert.Convert(val, d.typ)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("The default is not %s: %s.", typeName(d.typ), err),
					Subject:  a.Expr.Range().Ptr(),
				})
				d.badDefault = true
			} else {
				d.def = cv
				v.HasDefault = true
			}
		}
	}
	return d, diags
}

// parseRawVariable reads a value given on the command line or in the
// environment: taken literally for string variables, parsed as an HCL
// expression for any other type, as Terraform does.
func parseRawVariable(d *variableDecl, raw, source string) (cty.Value, hcl.Diagnostics) {
	if d.typ == cty.String || d.typ == cty.DynamicPseudoType {
		return cty.StringVal(raw), nil
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), source, hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, invalidRaw(d, source, "it is not a valid expression")
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, invalidRaw(d, source, "it must be a constant value")
	}
	cv, err := convert.Convert(v, d.typ)
	if err != nil {
		return cty.NilVal, invalidRaw(d, source, err.Error())
	}
	return cv, nil
}

// invalidRaw never quotes the raw text: it may be a secret.
func invalidRaw(d *variableDecl, source, why string) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid value for variable",
		Detail:   fmt.Sprintf("The value from %s for variable %q (%s) cannot be used: %s.", source, d.v.Name, typeName(d.typ), why),
		Subject:  d.v.DeclRange.Ptr(),
	}}
}

func typeName(t cty.Type) string {
	if t == cty.DynamicPseudoType {
		return "any value"
	}
	return t.FriendlyName()
}

func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[string]string) []string { return keys(m) }

func sortedAttrNames(as hcl.Attributes) []string {
	names := keys(as)
	sort.Slice(names, func(i, j int) bool {
		return as[names[i]].Range.Start.Byte < as[names[j]].Range.Start.Byte
	})
	return names
}
