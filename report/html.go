package report

import (
	_ "embed"
	"html/template"
)

// page.html.tmpl is the whole page: its CSS is in a <style> element and the
// diagrams are inline <svg>, so the file stands alone (mailed, attached to a
// ticket, opened offline).
//
//go:embed page.html.tmpl
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))
