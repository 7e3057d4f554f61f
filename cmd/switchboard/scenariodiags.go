package main

import (
	"github.com/hashicorp/hcl/v2"

	"switchboard/lang"
)

// capUnparsed caps the syntax errors of the scenario files that did not
// parse at the first of each (see lang.CapSyntaxErrors); the diagnostics
// of those files are the parser's alone, the others' are kept whole.
func capUnparsed(diags hcl.Diagnostics, unparsed map[string]bool) hcl.Diagnostics {
	if len(unparsed) == 0 {
		return diags
	}
	var syntax, rest hcl.Diagnostics
	for _, d := range diags {
		if d.Subject != nil && unparsed[d.Subject.Filename] {
			syntax = append(syntax, d)
		} else {
			rest = append(rest, d)
		}
	}
	return append(lang.CapSyntaxErrors(syntax), rest...)
}
