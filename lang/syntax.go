package lang

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// CapSyntaxErrors keeps, of the parser's diagnostics for each file, the
// first error and replaces the rest with one note, "N more errors
// suppressed in FILE". After a syntax error such as a missing quote the
// parser reads the rest of the file out of step and reports nearly every
// later line; those errors follow from the first one and bury it (one
// missing quote gave 110 errors). Warnings are kept. diags must be parser
// diagnostics: errors about the meaning of a file are all worth reading.
func CapSyntaxErrors(diags hcl.Diagnostics) hcl.Diagnostics {
	type fileErrs struct {
		first *hcl.Diagnostic
		more  int
	}
	byFile := map[string]*fileErrs{}
	var order []string
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Severity != hcl.DiagError || d.Subject == nil {
			out = append(out, d)
			continue
		}
		name := d.Subject.Filename
		fe := byFile[name]
		if fe == nil {
			byFile[name] = &fileErrs{first: d}
			order = append(order, name)
			continue
		}
		fe.more++
		if before(*d.Subject, *fe.first.Subject) {
			fe.first = d
		}
	}
	for _, name := range order {
		fe := byFile[name]
		out = append(out, fe.first)
		if fe.more == 0 {
			continue
		}
		out = append(out, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  fmt.Sprintf("%s suppressed in %s", moreErrors(fe.more), name),
			Detail: fmt.Sprintf("After the syntax error above, the parser read the rest of %s out of step, and what it reported after it mostly follows from that error. Fix it and run again to see what remains.",
				name),
			Subject: fe.first.Subject,
		})
	}
	return out
}

func moreErrors(n int) string {
	if n == 1 {
		return "1 more error"
	}
	return fmt.Sprintf("%d more errors", n)
}

func before(a, b hcl.Range) bool {
	if a.Start.Line != b.Start.Line {
		return a.Start.Line < b.Start.Line
	}
	return a.Start.Column < b.Start.Column
}
