package lang

import (
	"github.com/hashicorp/hcl/v2"
)

// Sensitive is where a site's sensitive values are, learnt from the marks
// that values of sensitive variables carry through evaluation. Whatever
// prints diagnostics uses it instead of looking for the values' text.
type Sensitive struct {
	// Text are ranges of source text that is a sensitive value: a
	// sensitive variable's default, and every -var-file value except those
	// of variables the site declares and does not mark sensitive (a value
	// for an undeclared name may be a secret for another site). Snippets
	// must mask them.
	Text []hcl.Range
	// Exprs are block attributes whose value is sensitive, such as
	// mobile = var.mary_mobile: the expression may be shown, what it
	// evaluates to may not, so a diagnostic about one must not quote it.
	Exprs []hcl.Range
	// Blocks are the headers of the blocks that hold such an attribute,
	// and of the blocks around them (a relay's device): later stages
	// report about a whole object at its header, and may quote any of its
	// values (a relay's DTMF code in a provisioning warning).
	Blocks []hcl.Range
}

// hiddenDetail replaces the detail of a diagnostic about a sensitive value.
const hiddenDetail = "The value here is sensitive, so the details of this problem are hidden; the summary says what is wrong. Check the value where it is set (-var, -var-file or " + EnvVarPrefix + "<name>)."

// QuotesNoValue, as the Extra of a diagnostic, says that its detail quotes
// no value of the site, so Redact may leave it whole even when its subject
// is sensitive.
type QuotesNoValue struct{}

// Redact returns diags with the detail of every diagnostic whose subject
// lies within a sensitive value (a sensitive expression or the text of a
// sensitive value), or is the header of a block holding one, replaced,
// since checks quote the values they reject.
// Expressions and evaluation contexts, from which hcl's text writer prints
// values, are the printer's to drop when they hold a marked value.
func (s Sensitive) Redact(diags hcl.Diagnostics) hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(diags))
	for _, d := range diags {
		if d == nil {
			continue
		}
		c := *d
		if _, ok := c.Extra.(QuotesNoValue); !ok && c.Subject != nil && (within(*c.Subject, s.Exprs) || within(*c.Subject, s.Text) || within(*c.Subject, s.Blocks)) {
			c.Detail = hiddenDetail
		}
		out = append(out, &c)
	}
	return out
}

// within reports whether r lies inside one of rs.
func within(r hcl.Range, rs []hcl.Range) bool {
	for _, o := range rs {
		if o.Filename == r.Filename && o.Start.Byte <= r.Start.Byte && r.End.Byte <= o.End.Byte {
			return true
		}
	}
	return false
}
