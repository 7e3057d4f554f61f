package main

import (
	"github.com/hashicorp/hcl/v2"

	"switchboard/lang"
	"switchboard/simulate"
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

// displayOrigins names the file of each result's origin as diagnostics
// do (see displayPaths): relative to the current directory, so that a
// failing case's "site.pbx.hcl:42" can be opened from where test ran, in
// the text, JSON and JUnit reports alike.
func displayOrigins(dir string, rep *simulate.Report) {
	names := map[string]string{}
	for i := range rep.Results {
		o := &rep.Results[i].Origin
		if o.File == "" {
			continue
		}
		if _, ok := names[o.File]; !ok {
			names[o.File] = displayName(dir, o.File)
		}
		o.File = names[o.File]
	}
}
