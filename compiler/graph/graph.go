// Package graph draws who rings whom on a site: door stations and their
// buttons and keypads to residences, residences to the endpoints they ring
// (in order for sequential rings), DDIs to users, conference rooms and who
// hosts them, and where unanswered calls end. It reads only the IR, so what
// it draws is what the runtime does.
package graph

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"switchboard/compiler/ir"
)

// Formats lists the output formats Render accepts.
var Formats = []string{"dot", "mermaid", "json", "svg"}

// node and edge are the format-neutral picture; each writer renders them.
type node struct {
	id, label, shape string
}

type edge struct {
	from, to, label string
	style           string // "", "dashed" (keypad) or "dotted" (fallback)
}

type cluster struct {
	id, label string
	nodes     []node
}

type picture struct {
	title    string
	clusters []cluster
	nodes    []node // outside any cluster
	edges    []edge
}

// Render writes the graph of p in the given format.
func Render(w io.Writer, p *ir.Program, format string) error {
	pic := build(p)
	switch format {
	case "dot":
		return writeDOT(w, pic)
	case "mermaid":
		return writeMermaid(w, pic)
	case "json":
		return writeJSON(w, pic)
	case "svg":
		return writeSVG(w, pic)
	}
	return fmt.Errorf("unknown graph format %q: use one of %s", format, strings.Join(Formats, ", "))
}

func build(p *ir.Program) *picture {
	pic := &picture{title: p.Site.Name}
	users := map[string]*ir.User{}
	for i := range p.Users {
		users[p.Users[i].Name] = &p.Users[i]
	}
	inResidence := map[string]bool{}

	for _, d := range p.Devices {
		if d.Kind == ir.DoorStation {
			label := d.Name
			if d.Location != "" {
				label += "\n" + d.Location
			}
			pic.nodes = append(pic.nodes, node{id: "device." + d.Name, label: label, shape: "door"})
		}
	}
	for _, r := range p.Residences {
		c := cluster{id: "residence." + r.Name, label: fmt.Sprintf("%s (%s)", r.Label, r.Name)}
		c.nodes = append(c.nodes, node{id: "residence." + r.Name, label: r.Label + "\n" + string(r.Ring.Strategy), shape: "residence"})
		for _, m := range r.Monitors {
			c.nodes = append(c.nodes, node{id: "device." + m, label: m + "\nmonitor", shape: "endpoint"})
		}
		for _, un := range r.Users {
			if u := users[un]; u != nil {
				c.nodes = append(c.nodes, userNode(u))
				inResidence[un] = true
			}
		}
		pic.clusters = append(pic.clusters, c)
		pic.edges = append(pic.edges, ringEdges("residence."+r.Name, r.Ring)...)
	}
	for _, u := range p.Users {
		if !inResidence[u.Name] {
			pic.nodes = append(pic.nodes, userNode(&u))
		}
	}
	for _, u := range p.Users {
		for _, f := range []ir.Fallback{u.Ring.NoAnswer} {
			// Their own box too: a box no edge reaches looks like one
			// nobody can leave a message in.
			if f.Kind == ir.FallbackVoicemail && f.Mailbox != "" {
				pic.edges = append(pic.edges, edge{from: "user." + u.Name, to: "mailbox." + f.Mailbox, label: "no answer", style: "dotted"})
			}
		}
	}
	for _, m := range p.Mailboxes {
		pic.nodes = append(pic.nodes, node{id: "mailbox." + m.Name, label: "voicemail\n" + m.Name, shape: "mailbox"})
	}

	// Entries: merge a button and a keypad code that reach the same target
	// into one edge so a keypad panel stays readable.
	type key struct{ from, to string }
	labels := map[key][]string{}
	keypad := map[key]bool{}
	var order []key
	buttonOf := map[string]string{} // device/code → button label
	for _, d := range p.Devices {
		for _, b := range d.Buttons {
			buttonOf[d.Name+"\x00"+b.Dial] = b.Label
		}
	}
	for _, e := range p.Entries {
		k := key{"device." + e.Device, e.Target.String()}
		if _, ok := labels[k]; !ok {
			order = append(order, k)
		}
		if b, ok := buttonOf[e.Device+"\x00"+e.Code]; ok {
			labels[k] = append(labels[k], "button "+b)
		} else {
			labels[k] = append(labels[k], "keys "+e.Code)
			keypad[k] = true
		}
	}
	for _, k := range order {
		style := ""
		if keypad[k] && !slices.ContainsFunc(labels[k], func(s string) bool { return strings.HasPrefix(s, "button ") }) {
			style = "dashed"
		}
		pic.edges = append(pic.edges, edge{from: k.from, to: k.to, label: strings.Join(labels[k], ", "), style: style})
	}
	// Conference rooms: everyone dials the room's number; the owner's edge
	// says whose room it is (and joins without the PIN where it has one).
	for _, c := range p.Conferences {
		label := "conference " + c.Number
		if c.PIN {
			label += "\nPIN"
		}
		id := ir.ConferenceRef(c.Name).String()
		pic.nodes = append(pic.nodes, node{id: id, label: label, shape: "conference"})
		if c.Owner.Kind == ir.RefUser {
			pic.edges = append(pic.edges, edge{from: c.Owner.String(), to: id, label: "hosts", style: "dashed"})
		}
	}
	for _, d := range p.DDIs {
		pic.nodes = append(pic.nodes, node{id: "ddi." + d.Number, label: d.Number + "\n" + d.Trunk, shape: "ddi"})
		pic.edges = append(pic.edges, edge{from: "ddi." + d.Number, to: d.Target.String()})
	}
	return pic
}

func userNode(u *ir.User) node {
	label := u.DisplayName
	if u.Extension != "" {
		label += "\next " + u.Extension
	}
	return node{id: "user." + u.Name, label: label, shape: "user"}
}

// ringEdges links a residence to what it rings. Legs that are users link to
// the user node; monitors link to the device. Sequential rings number the
// edges in ring order.
func ringEdges(from string, r ir.Ring) []edge {
	var out []edge
	for i, leg := range r.Legs {
		label := ""
		if r.Strategy == ir.Sequential {
			label = fmt.Sprintf("%d. %s", i+1, leg.Timeout)
		}
		out = append(out, edge{from: from, to: leg.Label, label: label})
	}
	if f := r.NoAnswer; f.Kind == ir.FallbackVoicemail && f.Mailbox != "" {
		out = append(out, edge{from: from, to: "mailbox." + f.Mailbox, label: "no answer " + r.Timeout.String(), style: "dotted"})
	}
	return out
}

var dotShapes = map[string]string{
	"door": "house", "residence": "folder", "endpoint": "box", "user": "box",
	"mailbox": "cylinder", "ddi": "cds", "conference": "hexagon",
}

func dotQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}

func writeDOT(w io.Writer, pic *picture) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", dotQuote(pic.title))
	b.WriteString("  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n")
	writeNode := func(indent string, n node) {
		fmt.Fprintf(&b, "%s%s [label=%s, shape=%s];\n", indent, dotQuote(n.id), dotQuote(n.label), dotShapes[n.shape])
	}
	for _, n := range pic.nodes {
		writeNode("  ", n)
	}
	for _, c := range pic.clusters {
		fmt.Fprintf(&b, "  subgraph %s {\n    label=%s;\n    style=rounded;\n", dotQuote("cluster_"+c.id), dotQuote(c.label))
		for _, n := range c.nodes {
			writeNode("    ", n)
		}
		b.WriteString("  }\n")
	}
	for _, e := range pic.edges {
		var attrs []string
		if e.label != "" {
			attrs = append(attrs, "label="+dotQuote(e.label))
		}
		if e.style != "" {
			attrs = append(attrs, "style="+e.style)
		}
		fmt.Fprintf(&b, "  %s -> %s", dotQuote(e.from), dotQuote(e.to))
		if len(attrs) > 0 {
			fmt.Fprintf(&b, " [%s]", strings.Join(attrs, ", "))
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidID turns a node id into one Mermaid accepts: letters, digits and
// underscores, made unique by escaping everything else.
func mermaidID(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "_%x_", r)
		}
	}
	return b.String()
}

func mermaidLabel(s string) string {
	s = strings.ReplaceAll(s, `"`, "#quot;")
	return `"` + strings.ReplaceAll(s, "\n", "<br/>") + `"`
}

var mermaidShapes = map[string][2]string{
	"door": {"[/", "\\]"}, "residence": {"([", "])"}, "endpoint": {"[", "]"}, "user": {"[", "]"},
	"mailbox": {"[(", ")]"}, "ddi": {"{{", "}}"}, "conference": {"((", "))"},
}

func writeMermaid(w io.Writer, pic *picture) error {
	var b strings.Builder
	fmt.Fprintf(&b, "---\ntitle: %s\n---\nflowchart LR\n", pic.title)
	writeNode := func(indent string, n node) {
		sh := mermaidShapes[n.shape]
		fmt.Fprintf(&b, "%s%s%s%s%s\n", indent, mermaidID(n.id), sh[0], mermaidLabel(n.label), sh[1])
	}
	for _, n := range pic.nodes {
		writeNode("  ", n)
	}
	for _, c := range pic.clusters {
		fmt.Fprintf(&b, "  subgraph %s[%s]\n", mermaidID("cluster."+c.id), mermaidLabel(c.label))
		for _, n := range c.nodes {
			writeNode("    ", n)
		}
		b.WriteString("  end\n")
	}
	for _, e := range pic.edges {
		arrow := "-->"
		switch e.style {
		case "dashed", "dotted":
			arrow = "-.->"
		}
		if e.label != "" {
			fmt.Fprintf(&b, "  %s %s|%s| %s\n", mermaidID(e.from), arrow, mermaidLabel(e.label), mermaidID(e.to))
		} else {
			fmt.Fprintf(&b, "  %s %s %s\n", mermaidID(e.from), arrow, mermaidID(e.to))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// The JSON form is the picture itself, for tools: nodes (in clusters or
// not) and edges, with the same ids, labels and styles DOT gets.
type jsonGraph struct {
	Title    string        `json:"title"`
	Clusters []jsonCluster `json:"clusters"`
	Nodes    []jsonNode    `json:"nodes"`
	Edges    []jsonEdge    `json:"edges"`
}

type jsonCluster struct {
	ID    string     `json:"id"`
	Label string     `json:"label"`
	Nodes []jsonNode `json:"nodes"`
}

type jsonNode struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Shape string `json:"shape,omitempty"`
}

type jsonEdge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Label string `json:"label,omitempty"`
	Style string `json:"style,omitempty"`
}

func jsonNodes(ns []node) []jsonNode {
	out := make([]jsonNode, 0, len(ns))
	for _, n := range ns {
		out = append(out, jsonNode{ID: n.id, Label: n.label, Shape: n.shape})
	}
	return out
}

func writeJSON(w io.Writer, pic *picture) error {
	g := jsonGraph{Title: pic.title, Clusters: []jsonCluster{}, Nodes: jsonNodes(pic.nodes), Edges: []jsonEdge{}}
	for _, c := range pic.clusters {
		g.Clusters = append(g.Clusters, jsonCluster{ID: c.id, Label: c.label, Nodes: jsonNodes(c.nodes)})
	}
	for _, e := range pic.edges {
		g.Edges = append(g.Edges, jsonEdge{From: e.from, To: e.to, Label: e.label, Style: e.style})
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(g)
}
