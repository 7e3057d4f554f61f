package main

import (
	"fmt"
	"slices"
	"strings"

	"switchboard/compiler/graph"
)

var graphCommand = &command{
	name:     "graph",
	synopsis: "Draw who rings whom, as Graphviz DOT or Mermaid",
	usage: `Usage: switchboard graph [-format dot|mermaid] [-var name=value]... [-var-file FILE]... [DIR]

Draws the call paths of the site in DIR: door stations and their buttons
and keypad codes to residences, residences to the monitors and people they
ring (numbered in order for sequential rings), DDIs to users, and where
unanswered calls end. Each residence is a cluster, so a 40-flat block stays
legible. Render DOT with "dot -Tsvg"; paste Mermaid into a Markdown file.

Exit status: 0 drawn, 1 errors in the site, 2 usage error.`,
	run:   runGraph,
	flags: func() *flagSet { return graphFlags(&graphOptions{}) },
}

type graphOptions struct {
	format string
	site   siteOptions
}

func graphFlags(o *graphOptions) *flagSet {
	f := newFlagSet("graph")
	f.fs.StringVar(&o.format, "format", "dot", "output `FORMAT`: dot or mermaid")
	o.site.register(f.fs)
	return f
}

func runGraph(c *cli, args []string) int {
	var o graphOptions
	positional, status, ok := c.parse(graphFlags(&o), args, 1)
	if !ok {
		return status
	}
	if !slices.Contains(graph.Formats, o.format) {
		return c.usageError(lookup("graph"), "-format must be %s, not %q", strings.Join(graph.Formats, " or "), o.format)
	}
	cs, status := c.compileSite("graph", dirArg(positional), compileOptions{site: o.site})
	if cs == nil {
		return status
	}
	if err := graph.Render(c.stdout, cs.program, o.format); err != nil {
		fmt.Fprintf(c.stderr, "switchboard graph: %v\n", err)
		return exitFail
	}
	return exitOK
}
