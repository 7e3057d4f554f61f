package lang

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// evalLocals evaluates every local value in dependency order. A local may
// use variables, functions and other locals, but not block references: the
// set of blocks can itself depend on locals through dynamic blocks.
func (e *evaluator) evalLocals(blocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	pending := map[string]*hcl.Attribute{}
	var order []string
	for _, b := range blocks {
		as, d := b.Body.JustAttributes()
		diags = append(diags, d...)
		for _, name := range sortedAttrNames(as) {
			a := as[name]
			if prev, ok := e.localDecl[name]; ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate local value",
					Detail:   fmt.Sprintf("A local value named %q was already defined at %s.", name, rangeLine(prev)),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			e.localDecl[name] = a.NameRange
			pending[name] = a
			order = append(order, name)
		}
	}

	// References to locals that do not exist are reported once, here, with
	// a suggestion; the rest of the evaluation skips them.
	for _, name := range order {
		for _, t := range pending[name].Expr.Variables() {
			if t.RootName() != "local" || len(t) < 2 {
				continue
			}
			if attr, ok := t[1].(hcl.TraverseAttr); ok {
				if _, ok := e.localDecl[attr.Name]; !ok {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Reference to undeclared local value",
						Detail:   fmt.Sprintf("There is no local value named %q.%s", attr.Name, didYouMean(attr.Name, keys(e.localDecl))),
						Subject:  t.SourceRange().Ptr(),
					})
					delete(pending, name)
				}
			}
		}
	}

	for len(pending) > 0 {
		progress := false
		for _, name := range order {
			a, ok := pending[name]
			if !ok || !e.localsReady(a.Expr, pending) {
				continue
			}
			v, d := a.Expr.Value(e.inputContext())
			d = e.redact(a.Expr, e.inputContext(), d)
			diags = append(diags, d...)
			if d.HasErrors() {
				v = cty.DynamicVal
			}
			e.locals[name] = v
			delete(pending, name)
			progress = true
		}
		if !progress {
			for _, name := range order {
				if a, ok := pending[name]; ok {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Cycle in local values",
						Detail:   fmt.Sprintf("The local value %q depends on itself through other local values.", name),
						Subject:  a.NameRange.Ptr(),
					})
				}
			}
			break
		}
	}
	return diags
}

func (e *evaluator) localsReady(expr hcl.Expression, pending map[string]*hcl.Attribute) bool {
	for _, t := range expr.Variables() {
		if t.RootName() != "local" || len(t) < 2 {
			continue
		}
		if attr, ok := t[1].(hcl.TraverseAttr); ok {
			if _, waiting := pending[attr.Name]; waiting {
				return false
			}
		}
	}
	return true
}
