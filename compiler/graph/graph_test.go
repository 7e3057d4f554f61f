package graph_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/graph"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/interop/peer"
)

// Conference rooms are drawn in every format: the room, and its owner's
// edge to it.
func TestConferenceRooms(t *testing.T) {
	p := irtest.HarbourView()
	p.Conferences[0].PIN = true
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"dot", []string{
			`"conference.mary" [label="conference 8101\nPIN", shape=hexagon];`,
			`"user.mary" -> "conference.mary" [label="hosts", style=dashed];`,
		}},
		{"mermaid", []string{
			`conference_2e_mary(("conference 8101<br/>PIN"))`,
			`user_2e_mary -.->|"hosts"| conference_2e_mary`,
		}},
	} {
		var b bytes.Buffer
		if err := graph.Render(&b, p, tc.format); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s lacks %s:\n%s", tc.format, w, b.String())
			}
		}
	}

	var b bytes.Buffer
	if err := graph.Render(&b, p, "json"); err != nil {
		t.Fatal(err)
	}
	type node struct{ ID, Label, Shape string }
	type edge struct{ From, To, Label, Style string }
	var g struct {
		Nodes []node
		Edges []edge
	}
	if err := json.Unmarshal(b.Bytes(), &g); err != nil {
		t.Fatal(err)
	}
	var rooms []node
	for _, n := range g.Nodes {
		if n.Shape == "conference" {
			rooms = append(rooms, n)
		}
	}
	var hosts []edge
	for _, e := range g.Edges {
		if strings.HasPrefix(e.To, "conference.") {
			hosts = append(hosts, e)
		}
	}
	if diff := cmp.Diff([]node{{"conference.mary", "conference 8101\nPIN", "conference"}}, rooms); diff != "" {
		t.Errorf("conference nodes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]edge{{"user.mary", "conference.mary", "hosts", "dashed"}}, hosts); diff != "" {
		t.Errorf("edges to conference rooms (-want +got):\n%s", diff)
	}
}

// -format svg is Graphviz's layout of the DOT: one SVG node per node of
// the picture, conference rooms included.
func TestSVG(t *testing.T) {
	peer.Require(t, "dot", "apt-get install -y graphviz (make peers)")
	p := irtest.HarbourView()
	var svg, dot bytes.Buffer
	if err := graph.Render(&svg, p, "svg"); err != nil {
		t.Fatal(err)
	}
	if err := graph.Render(&dot, p, "dot"); err != nil {
		t.Fatal(err)
	}
	s := svg.String()
	if !strings.Contains(s, "<svg") || !strings.HasSuffix(strings.TrimSpace(s), "</svg>") {
		t.Fatalf("not an SVG document:\n%s", s)
	}
	nodes := strings.Count(dot.String(), "shape=")
	if got := strings.Count(s, `class="node"`); got != nodes {
		t.Errorf("the SVG has %d nodes, the DOT %d", got, nodes)
	}
	if !strings.Contains(s, "<title>conference.mary</title>") {
		t.Error("the SVG lacks the conference room")
	}
}

// Without dot on PATH, svg is the one clear error and writes nothing.
func TestSVGWithoutDot(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var b bytes.Buffer
	err := graph.Render(&b, irtest.HarbourView(), "svg")
	if !errors.Is(err, graph.ErrNoDot) {
		t.Fatalf("got %v, want ErrNoDot", err)
	}
	if diff := cmp.Diff("graph -format svg needs Graphviz's dot: apt-get install graphviz", err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if b.Len() != 0 {
		t.Errorf("wrote %d bytes", b.Len())
	}
}
