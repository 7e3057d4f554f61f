package lang

import (
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// refKinds are the block types that can be referred to by traversal.
var refKinds = []string{"device", "residence", "trunk", "user"}

// refTarget is the value a reference evaluates to. It is a capsule so that
// no string, list or object can pass for a reference by accident.
type refTarget struct {
	kind, name string
}

var refType = cty.Capsule("reference", reflect.TypeOf(refTarget{}))

// sensitiveMark is the cty mark carried by values of sensitive variables.
// hcl's text writer prints "has a sensitive value" for marked values instead
// of the value itself, which keeps them out of diagnostic snippets.
const sensitiveMark = "sensitive"

// evaluator holds the evaluation context as it grows: variables and locals
// first, then the names of every referable block.
type evaluator struct {
	dir       string
	funcs     map[string]function.Function
	vars      map[string]cty.Value
	locals    map[string]cty.Value
	localDecl map[string]hcl.Range
	declared  map[string]map[string]hcl.Range // kind → name → first NameRange
	dups      map[*hcl.Block]bool
	full      *hcl.EvalContext  // built once, after declare
	sources   map[string][]byte // file contents by name, for source-level checks
	// incomplete is set when a file had a syntax error: blocks after the
	// error are missing, so a reference to an undeclared name may be to
	// one of them and is not reported.
	incomplete bool
	// trace, when set (by a test), hears of every attribute a decoder
	// reads: see attrs.read.
	trace func(block *BlockSpec, attr, typ, def string)
	// sensitiveText, sensitiveExprs and sensitiveBlocks become
	// Config.Sensitive.
	sensitiveText, sensitiveExprs, sensitiveBlocks []hcl.Range
}

func newEvaluator(dir string) *evaluator {
	return &evaluator{
		dir:       dir,
		funcs:     functions(dir),
		vars:      map[string]cty.Value{},
		locals:    map[string]cty.Value{},
		localDecl: map[string]hcl.Range{},
		declared:  map[string]map[string]hcl.Range{},
		dups:      map[*hcl.Block]bool{},
	}
}

// inputContext is for locals and dynamic blocks: variables, locals and
// functions, but no block references (their names are not known yet).
func (e *evaluator) inputContext() *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":   cty.ObjectVal(e.vars),
			"local": cty.ObjectVal(e.locals),
		},
		Functions: e.funcs,
	}
}

// context is the full context used for block attributes. It is built once:
// a large site evaluates tens of thousands of attributes against it.
func (e *evaluator) context() *hcl.EvalContext {
	if e.full != nil {
		return e.full
	}
	ctx := e.inputContext()
	for _, kind := range refKinds {
		attrs := map[string]cty.Value{}
		for name := range e.declared[kind] {
			attrs[name] = cty.CapsuleVal(refType, &refTarget{kind: kind, name: name})
		}
		ctx.Variables[kind] = cty.ObjectVal(attrs)
	}
	e.full = ctx
	return ctx
}

// declare records the name of every referable block and reports duplicates
// at the later declaration, naming the first.
func (e *evaluator) declare(blocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range blocks {
		if b.Type == "site" || len(b.Labels) == 0 {
			continue
		}
		name := b.Labels[0]
		if !hclsyntaxValidName(name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid block name",
				Detail:   fmt.Sprintf("The %s name %q is not valid: names start with a letter and contain only letters, digits, underscores and dashes, so that %s.%s can be written as a reference.", b.Type, name, b.Type, name),
				Subject:  b.LabelRanges[0].Ptr(),
			})
			e.dups[b] = true
			continue
		}
		m := e.declared[b.Type]
		if m == nil {
			m = map[string]hcl.Range{}
			e.declared[b.Type] = m
		}
		if prev, ok := m[name]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate %s", b.Type),
				Detail:   fmt.Sprintf("A %s named %q was already declared at %s. Names of %s blocks must be unique within a site.", b.Type, name, rangeLine(prev), b.Type),
				Subject:  b.LabelRanges[0].Ptr(),
			})
			e.dups[b] = true
			continue
		}
		m[name] = b.LabelRanges[0]
	}
	return diags
}

// first reports whether b is the first declaration of its name.
func (e *evaluator) first(b *hcl.Block) bool { return !e.dups[b] }

var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func hclsyntaxValidName(s string) bool { return validName.MatchString(s) }

// rangeLine renders a range as file:line for "declared at" details.
func rangeLine(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

// value evaluates an attribute with the full context. Null counts as unset.
func (e *evaluator) value(attr *hcl.Attribute) (cty.Value, bool, hcl.Diagnostics) {
	v, diags := attr.Expr.Value(e.context())
	diags = e.redact(attr.Expr, e.context(), diags)
	if diags.HasErrors() {
		if d := e.refDiagnostic(attr.Expr); d != nil {
			if e.incomplete {
				return cty.NilVal, false, nil
			}
			return cty.NilVal, false, hcl.Diagnostics{d}
		}
		var out hcl.Diagnostics
		for _, d := range diags {
			if nd := e.indexDiagnostic(d); nd != nil {
				if e.incomplete {
					continue
				}
				d = nd
			}
			out = append(out, d)
		}
		return cty.NilVal, false, out
	}
	// Unknown values only arise from inputs that already failed (a variable
	// without a value, a local with an error); that error has been reported.
	if v.IsNull() || !v.IsWhollyKnown() {
		return cty.NilVal, false, diags
	}
	return v, true, diags
}

// redact hides the detail of errors in expressions that use a sensitive
// value. cty functions quote their arguments in error messages ("cannot
// convert "hunter2" to number"), which would print the secret.
func (e *evaluator) redact(expr hcl.Expression, ctx *hcl.EvalContext, diags hcl.Diagnostics) hcl.Diagnostics {
	if !diags.HasErrors() || !usesSensitive(expr, ctx) {
		return diags
	}
	out := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		nd := *d
		if d.Severity == hcl.DiagError {
			nd.Detail = "This expression uses a sensitive value, so the details of this error are hidden. Check the value's type and content where it is set."
		}
		nd.Expression, nd.EvalContext = nil, nil
		out[i] = &nd
	}
	return out
}

func usesSensitive(expr hcl.Expression, ctx *hcl.EvalContext) bool {
	for _, t := range expr.Variables() {
		v, d := t.TraverseAbs(ctx)
		if !d.HasErrors() && v.ContainsMarked() {
			return true
		}
	}
	return false
}

// refDiagnostic explains a failed reference written as a static traversal,
// such as residence.apt-1b, with a did-you-mean. It returns nil for any
// other expression, leaving hcl's own diagnostic in place.
func (e *evaluator) refDiagnostic(expr hcl.Expression) *hcl.Diagnostic {
	trav, d := hcl.AbsTraversalForExpr(expr)
	if d.HasErrors() || len(trav) < 2 {
		return nil
	}
	kind := trav.RootName()
	if !isRefKind(kind) {
		return nil
	}
	var name string
	switch step := trav[1].(type) {
	case hcl.TraverseAttr:
		name = step.Name
	case hcl.TraverseIndex:
		if step.Key.Type() != cty.String || !step.Key.IsKnown() {
			return nil
		}
		name = step.Key.AsString()
	default:
		return nil
	}
	if _, ok := e.declared[kind][name]; ok {
		return nil
	}
	detail := fmt.Sprintf("There is no %s named %q in this site.", kind, name)
	if s := suggest(name, e.names(kind)); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Reference to undeclared %s", kind),
		Detail:   detail,
		Subject:  trav.SourceRange().Ptr(),
	}
}

// indexDiagnostic rewrites hcl's "Invalid index" for references computed in
// dynamic blocks, such as residence[user.value.flat], into the same
// did-you-mean message a written reference gets. hcl's own message would
// describe the whole namespace object, which for a large site is noise.
func (e *evaluator) indexDiagnostic(d *hcl.Diagnostic) *hcl.Diagnostic {
	ix, ok := d.Expression.(*hclsyntax.IndexExpr)
	if !ok || d.EvalContext == nil {
		return nil
	}
	coll, ok := ix.Collection.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(coll.Traversal) != 1 || !isRefKind(coll.Traversal.RootName()) {
		return nil
	}
	kind := coll.Traversal.RootName()
	key, kd := ix.Key.Value(d.EvalContext)
	if kd.HasErrors() || !key.IsKnown() || key.IsNull() || key.Type() != cty.String {
		return &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s reference", kind),
			Detail:   fmt.Sprintf("The name inside %s[…] must be a string naming a %s.", kind, kind),
			Subject:  d.Subject,
		}
	}
	name, _ := key.Unmark()
	detail := fmt.Sprintf("There is no %s named %q in this site.", kind, name.AsString())
	if s := suggest(name.AsString(), e.names(kind)); s != "" {
		detail += fmt.Sprintf(" Did you mean %q?", s)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Reference to undeclared %s", kind),
		Detail:   detail,
		Subject:  d.Subject,
	}
}

func isRefKind(s string) bool {
	for _, k := range refKinds {
		if k == s {
			return true
		}
	}
	return false
}

func (e *evaluator) names(kind string) []string {
	var out []string
	for n := range e.declared[kind] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// suggest returns the candidate closest to given, if close enough to be a
// likely typo.
func suggest(given string, candidates []string) string {
	best, bestDist := "", 4
	for _, c := range candidates {
		d := levenshtein.Distance(given, c, nil)
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// Attribute decoders. Each takes the attribute map from body.Content and
// returns a typed value; an absent attribute yields the default with its
// Range set to the block's declaration.

type attrs struct {
	m    hcl.Attributes
	decl hcl.Range
	// outer are the headers of the blocks around this one (a relay's
	// device), which diagnostics about the whole object point at.
	outer []hcl.Range
	ev    *evaluator
	diags hcl.Diagnostics
	// spec is the block being decoded, for the trace that checks the
	// reference against the decoder.
	spec *BlockSpec
}

// read notes that the decoder reads attribute name of a.spec as typ with
// the default def (as it would be written in a site file, "" for none).
func (a *attrs) read(name, typ, def string) {
	if a.ev.trace != nil {
		a.ev.trace(a.spec, name, typ, def)
	}
}

// quoted renders a default string value as written in a site file; "" is
// no default.
func quoted(s string) string {
	if s == "" {
		return ""
	}
	return strconv.Quote(s)
}

func (a *attrs) errorf(rng hcl.Range, summary, format string, args ...any) {
	a.diags = append(a.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  rng.Ptr(),
	})
}

// get evaluates name and converts it to ty, reporting a type mismatch at the
// attribute. The result is unmarked; sensitive reports whether it was marked.
func (a *attrs) get(name string, ty cty.Type, what string) (v cty.Value, sensitive bool, attr *hcl.Attribute) {
	attr = a.m[name]
	if attr == nil {
		return cty.NilVal, false, nil
	}
	raw, ok, d := a.ev.value(attr)
	a.diags = append(a.diags, d...)
	if !ok {
		return cty.NilVal, false, nil
	}
	raw, marks := raw.UnmarkDeep()
	_, sensitive = marks[sensitiveMark]
	if sensitive {
		a.ev.sensitiveExprs = append(a.ev.sensitiveExprs, attr.Expr.Range())
		a.ev.sensitiveBlocks = append(a.ev.sensitiveBlocks, a.decl)
		a.ev.sensitiveBlocks = append(a.ev.sensitiveBlocks, a.outer...)
	}
	if raw.Type() == refType || (ty != refType && containsRef(raw)) {
		a.errorf(attr.Expr.Range(), "Incorrect attribute value type", "The %q argument must be %s, not a reference to another block.", name, what)
		return cty.NilVal, false, nil
	}
	cv, err := convert.Convert(raw, ty)
	if err != nil {
		a.errorf(attr.Expr.Range(), "Incorrect attribute value type", "The %q argument must be %s.", name, what)
		return cty.NilVal, false, nil
	}
	return cv, sensitive, attr
}

func containsRef(v cty.Value) bool {
	found := false
	_ = cty.Walk(v, func(_ cty.Path, v cty.Value) (bool, error) {
		if v.Type() == refType {
			found = true
		}
		return !found, nil
	})
	return found
}

func (a *attrs) str(name string, def string) Str {
	a.read(name, "string", quoted(def))
	v, _, attr := a.get(name, cty.String, "a string")
	if attr == nil || v == cty.NilVal {
		return Str{Value: def, Range: a.rangeOf(attr)}
	}
	return Str{Value: v.AsString(), Set: true, Range: attr.Expr.Range()}
}

func (a *attrs) rangeOf(attr *hcl.Attribute) hcl.Range {
	if attr != nil {
		return attr.Expr.Range()
	}
	return a.decl
}

func (a *attrs) boolean(name string, def bool) Bool {
	a.read(name, "bool", strconv.FormatBool(def))
	v, _, attr := a.get(name, cty.Bool, "true or false")
	if attr == nil || v == cty.NilVal {
		return Bool{Value: def, Range: a.rangeOf(attr)}
	}
	return Bool{Value: v.True(), Set: true, Range: attr.Expr.Range()}
}

func (a *attrs) integer(name string, def int) Int {
	a.read(name, "whole number", strconv.Itoa(def))
	v, _, attr := a.get(name, cty.Number, "a whole number")
	if attr == nil || v == cty.NilVal {
		return Int{Value: def, Range: a.rangeOf(attr)}
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if acc != big.Exact || i < 0 || i > 1<<31 {
		a.errorf(attr.Expr.Range(), "Invalid number", "The %q argument must be a whole number between 0 and %d.", name, 1<<31)
		return Int{Value: def, Range: attr.Expr.Range()}
	}
	return Int{Value: int(i), Set: true, Range: attr.Expr.Range()}
}

func (a *attrs) secret(name string) Secret {
	a.read(name, "secret string", "")
	v, sensitive, attr := a.get(name, cty.String, "a string")
	if attr == nil || v == cty.NilVal {
		return Secret{Range: a.rangeOf(attr)}
	}
	sec := Secret{Value: v.AsString(), Sensitive: sensitive, Literal: len(attr.Expr.Variables()) == 0, Set: true, Range: attr.Expr.Range()}
	if t, d := hcl.AbsTraversalForExpr(attr.Expr); !d.HasErrors() && len(t) == 2 && t.RootName() == "var" {
		if step, ok := t[1].(hcl.TraverseAttr); ok {
			sec.Source = "var." + step.Name
		}
	}
	return sec
}

func (a *attrs) duration(name string, def time.Duration) Duration {
	if def == 0 {
		a.read(name, "duration", "")
	} else {
		a.read(name, "duration", quoted(def.String()))
	}
	v, _, attr := a.get(name, cty.String, `a duration such as "30s"`)
	if attr == nil || v == cty.NilVal {
		return Duration{Value: def, Raw: def.String(), Range: a.rangeOf(attr)}
	}
	raw := v.AsString()
	d, err := time.ParseDuration(raw)
	if err != nil {
		a.errorf(attr.Expr.Range(), "Invalid duration", "The %q argument must be a duration such as \"30s\" or \"1m30s\"; %q is not one.", name, raw)
		return Duration{Value: def, Raw: def.String(), Range: attr.Expr.Range()}
	}
	return Duration{Value: d, Raw: raw, Set: true, Range: attr.Expr.Range()}
}

var dialPattern = regexp.MustCompile(`^[*#]?[0-9]+[#]?$`)

// toDialString accepts a whole number or a string of digits, optionally with
// a leading * or #, and returns it as written.
func toDialString(v cty.Value) (string, bool) {
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		if !bf.IsInt() || bf.Sign() < 0 {
			return "", false
		}
		i, _ := bf.Int(nil)
		return i.String(), true
	case cty.String:
		s := v.AsString()
		return s, dialPattern.MatchString(s)
	}
	return "", false
}

const dialWhat = `a number such as 101, or a feature code in quotes such as "*97"`

func (a *attrs) dialValue(attr *hcl.Attribute, name string, v cty.Value) Number {
	s, ok := toDialString(v)
	if !ok {
		a.errorf(attr.Expr.Range(), "Invalid number", "The %q argument must be %s.", name, dialWhat)
		return Number{Range: attr.Expr.Range()}
	}
	a.leadingZero(attr, name, s)
	return Number{Value: s, Set: true, Range: attr.Expr.Range()}
}

// leadingZero warns when a number literal written with a leading zero,
// such as extension = 0101, lost it: HCL reads it as the number 101, and a
// dialled "0101" would then reach nothing.
func (a *attrs) leadingZero(attr *hcl.Attribute, name, value string) {
	lit, ok := attr.Expr.(*hclsyntax.LiteralValueExpr)
	if !ok || lit.Val.Type() != cty.Number {
		return
	}
	src := a.ev.sources[attr.Expr.Range().Filename]
	r := attr.Expr.Range()
	if r.End.Byte > len(src) || r.Start.Byte >= r.End.Byte {
		return
	}
	written := string(src[r.Start.Byte:r.End.Byte])
	if len(written) > 1 && written[0] == '0' && written != value {
		a.diags = append(a.diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Leading zero dropped",
			Detail:   fmt.Sprintf("HCL reads %s as the number %s. If %q is meant, write it in quotes: %s = %q.", written, value, written, name, written),
			Subject:  r.Ptr(),
		})
	}
}

func (a *attrs) number(name, def string) Number {
	if def != "" && strings.Trim(def, "0123456789") == "" {
		a.read(name, "dial number", def)
	} else {
		a.read(name, "dial number", quoted(def))
	}
	v, _, attr := a.get(name, cty.DynamicPseudoType, dialWhat)
	if attr == nil || v == cty.NilVal {
		return Number{Value: def, Range: a.rangeOf(attr)}
	}
	return a.dialValue(attr, name, v)
}

// e164List reads a list of phone numbers written as strings.
func (a *attrs) numberList(name string) []Number {
	a.read(name, "list of phone numbers", "")
	v, _, attr := a.get(name, cty.List(cty.String), "a list of phone numbers in quotes")
	if attr == nil || v == cty.NilVal {
		return nil
	}
	var out []Number
	// Ranges of individual elements when written as a literal list, so a
	// bad number is pointed at precisely.
	elemRanges := listElementRanges(attr.Expr)
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		rng := attr.Expr.Range()
		if i < len(elemRanges) {
			rng = elemRanges[i]
		}
		if ev.IsNull() {
			a.errorf(rng, "Invalid number", "The %q list must not contain null.", name)
			continue
		}
		out = append(out, Number{Value: ev.AsString(), Set: true, Range: rng})
	}
	return out
}

// strList reads a list of strings, each with its own range when written
// as a literal list, and the range of the whole attribute (the block's
// when absent). A written but empty list is an empty, non-nil slice; an
// absent one is nil, and def (for the reference) is what a later stage
// takes then.
func (a *attrs) strList(name, def, what string) ([]Str, hcl.Range) {
	a.read(name, "list of strings", def)
	v, _, attr := a.get(name, cty.List(cty.String), what)
	if attr == nil || v == cty.NilVal {
		return nil, a.rangeOf(attr)
	}
	out := []Str{}
	elemRanges := listElementRanges(attr.Expr)
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, ev := it.Element()
		rng := attr.Expr.Range()
		if i < len(elemRanges) {
			rng = elemRanges[i]
		}
		if ev.IsNull() {
			a.errorf(rng, "Invalid value", "The %q list must not contain null.", name)
			continue
		}
		out = append(out, Str{Value: ev.AsString(), Set: true, Range: rng})
	}
	return out, attr.Expr.Range()
}

func listElementRanges(expr hcl.Expression) []hcl.Range {
	exprs, d := hcl.ExprList(expr)
	if d.HasErrors() {
		return nil
	}
	out := make([]hcl.Range, len(exprs))
	for i, e := range exprs {
		out[i] = e.Range()
	}
	return out
}

// ref reads a reference to one of the given kinds of block.
func (a *attrs) ref(name string, kinds ...string) *Ref {
	a.read(name, "reference to "+strings.Join(kinds, " or "), "")
	attr := a.m[name]
	if attr == nil {
		return nil
	}
	v, ok, d := a.ev.value(attr)
	a.diags = append(a.diags, d...)
	if !ok {
		return nil
	}
	v, _ = v.Unmark()
	want := "a reference such as " + kinds[0] + ".name"
	if len(kinds) > 1 {
		var alts []string
		for _, k := range kinds {
			alts = append(alts, k+".name")
		}
		want = "a reference such as " + strings.Join(alts, " or ")
	}
	if v.Type() != refType {
		detail := fmt.Sprintf("The %q argument must be %s.", name, want)
		if v.Type() == cty.String && v.IsKnown() {
			if n := v.AsString(); hclsyntaxValidName(n) {
				detail += fmt.Sprintf(" Write %s.%s without quotes.", kinds[0], n)
			}
		}
		a.errorf(attr.Expr.Range(), "Invalid reference", "%s", detail)
		return nil
	}
	t := v.EncapsulatedValue().(*refTarget)
	for _, k := range kinds {
		if t.kind == k {
			return &Ref{Kind: t.kind, Name: t.name, Range: attr.Expr.Range()}
		}
	}
	a.errorf(attr.Expr.Range(), "Invalid reference", "The %q argument must be %s; %s.%s is a %s.", name, want, t.kind, t.name, t.kind)
	return nil
}

// oneOf reports a string attribute outside its allowed values.
func (a *attrs) oneOf(name string, s Str, allowed ...string) {
	if !s.Set {
		return
	}
	for _, v := range allowed {
		if s.Value == v {
			return
		}
	}
	detail := fmt.Sprintf("The %q argument must be one of %s; %q is not one of them.", name, quoteList(allowed), s.Value)
	if sug := suggest(s.Value, allowed); sug != "" {
		detail += fmt.Sprintf(" Did you mean %q?", sug)
	}
	a.errorf(s.Range, "Invalid value", "%s", detail)
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// singleBlock returns the only block of typ, reporting extra ones.
func singleBlock(blocks hcl.Blocks, typ string, diags *hcl.Diagnostics) *hcl.Block {
	var first *hcl.Block
	for _, b := range blocks {
		if b.Type != typ {
			continue
		}
		if first != nil {
			*diags = append(*diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate %s block", typ),
				Detail:   fmt.Sprintf("Only one %s block is allowed here; the first is at %s.", typ, rangeLine(first.DefRange)),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		first = b
	}
	return first
}
