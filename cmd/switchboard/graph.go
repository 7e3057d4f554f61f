package main

import (
	"switchboard/compiler/graph"
)

var graphCommand = &command{
	name:     "graph",
	synopsis: "Draw who rings whom, as Graphviz DOT, SVG or Mermaid",
	usage: `Usage: switchboard graph [-format dot|mermaid|json|svg] [-json] [-lockfile=readonly]
                         [-var name=value]... [-var-file FILE]... [DIR]

Draws the call paths of the site in DIR: door stations and their buttons
and keypad codes to residences, residences to the monitors and people they
ring (numbered in order for sequential rings), DDIs to users, conference
rooms and who hosts them, and where unanswered calls end. Each residence is
a cluster, so a 40-flat block stays legible. -format svg lays the DOT out
with Graphviz's dot (which must be installed) and prints the SVG; paste
Mermaid into a Markdown file.
-json (or -format json) prints the nodes and edges as JSON, and a site
with errors as the diagnostics document of validate -json.

Exit status: 0 drawn, 1 errors in the site or no dot for -format svg,
2 usage error.`,
	run:   runGraph,
	flags: func() *flagSet { return graphFlags(&graphOptions{}) },
}

type graphOptions struct {
	format string
	json   bool
	site   siteOptions
}

func graphFlags(o *graphOptions) *flagSet {
	f := newFlagSet("graph")
	f.fs.StringVar(&o.format, "format", "dot", "output `FORMAT`: dot, mermaid, json or svg")
	f.fs.BoolVar(&o.json, "json", false, "print the graph as JSON (-format json)")
	o.site.register(f.fs)
	return f
}

func runGraph(c *cli, args []string) int {
	var o graphOptions
	positional, status, ok := c.parse(graphFlags(&o), args, 1)
	if !ok {
		return status
	}
	if o.json {
		if o.format != "dot" && o.format != "json" {
			return c.usageError(lookup("graph"), "-json prints JSON, not %s: give one of -json and -format", o.format)
		}
		o.format = "json"
	}
	c.json = o.format == "json"
	cs, status := c.compileSite("graph", dirArg(positional), compileOptions{site: o.site})
	if cs == nil {
		return status
	}
	if err := graph.Render(c.stdout, cs.program, o.format); err != nil {
		return c.fail("graph", err)
	}
	return exitOK
}
