package main

import (
	"embed"
	"fmt"
	"strings"
	"text/template"
)

// The site templates init starts from (init -template NAME). Each is one
// site.pbx.hcl, a text/template filled with the site's block name and
// display name (siteNames). Every template validates without a warning,
// builds and passes "switchboard test" as written (TestInitTemplates).
// None holds a secret: every
// password is derived from the site key init creates, and the trunks are
// IP-authenticated until the installer adds credentials from sensitive
// variables, as their comments show.
//
//go:embed starter/*.pbx.hcl.tmpl
var starterFiles embed.FS

// siteTemplate is one template init can start from.
type siteTemplate struct {
	name    string
	summary string // for the help text and the usage error
	tmpl    *template.Template
}

// defaultTemplate is the template init uses without -template: the
// smallest site that validates (one residence, its owner, one door), the
// easiest to read and to grow. The richer ones are asked for by name.
const defaultTemplate = "minimal"

// siteTemplates are in the order the help lists them.
var siteTemplates = []siteTemplate{
	{name: "minimal", summary: "one residence, its owner with an app, one door station (the default)"},
	{name: "house", summary: "a family home: gate door station, indoor monitor, three people with apps, voicemail"},
	{name: "apartment", summary: "a building: entrance panel with a button per flat, monitors and apps, a concierge desk phone, trunk with DDIs, voicemail"},
	{name: "office", summary: "an office: reception desk phones in a sequential hunt group, trunk with DDIs, a conference room, voicemail, a street door"},
}

func init() {
	for i := range siteTemplates {
		t := &siteTemplates[i]
		t.tmpl = template.Must(template.ParseFS(starterFiles, "starter/"+t.name+".pbx.hcl.tmpl"))
	}
}

// lookupTemplate finds a template by name.
func lookupTemplate(name string) *siteTemplate {
	for i := range siteTemplates {
		if siteTemplates[i].name == name {
			return &siteTemplates[i]
		}
	}
	return nil
}

// templateNames is "minimal, house, apartment or office".
func templateNames() string {
	names := make([]string, len(siteTemplates))
	for i, t := range siteTemplates {
		names[i] = t.name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// templateList is the indented list of templates for the help text.
func templateList() string {
	var b strings.Builder
	for _, t := range siteTemplates {
		fmt.Fprintf(&b, "  %-10s %s\n", t.name, t.summary)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
