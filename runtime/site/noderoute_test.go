package site

import (
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/b2bua"
	"switchboard/runtime/registrar"
)

// Options.Node is read once: its canonical form names the node in its
// tokens, and a URI that could not be one is refused.
func TestNodeRouteParseNode(t *testing.T) {
	tests := []struct {
		in, id, element string
		bad             bool
	}{
		{in: "", id: ""},
		{in: "sip:127.0.0.2:5070", id: "sip:127.0.0.2:5070;transport=UDP", element: "<sip:T@127.0.0.2:5070;lr;ob>"},
		{in: "sip:Node-B.Example.NET", id: "sip:node-b.example.net:5060;transport=UDP", element: "<sip:T@node-b.example.net:5060;lr;ob>"},
		{in: "sip:[2001:db8::2]:5060;transport=tcp", id: "sip:[2001:db8::2]:5060;transport=TCP", element: "<sip:T@[2001:db8::2]:5060;transport=tcp;lr;ob>"},
		{in: "sips:10.0.0.2", id: "sips:10.0.0.2:5061;transport=TLS", element: "<sips:T@10.0.0.2:5061;lr;ob>"},
		{in: "sip:mary@10.0.0.2", bad: true},
		{in: "http://10.0.0.2", bad: true},
		{in: "sip:10.0.0.2;transport=sctp", bad: true},
		{in: "10.0.0.2:5060", bad: true},
		// A port no socket has: the node would name itself in every
		// token with an address no other node can reach.
		{in: "sip:10.0.0.2:99999", bad: true},
		{in: "sip:10.0.0.2:-5", bad: true},
	}
	for _, tt := range tests {
		n, err := parseNode(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("parseNode(%q): %v, want bad %v", tt.in, err, tt.bad)
			continue
		}
		if n == nil {
			if tt.id != "" {
				t.Errorf("parseNode(%q): no node", tt.in)
			}
			continue
		}
		if diff := cmp.Diff(tt.id, n.id); diff != "" {
			t.Errorf("parseNode(%q) id (-want +got):\n%s", tt.in, diff)
		}
		if diff := cmp.Diff(tt.element, n.element("T")); diff != "" {
			t.Errorf("parseNode(%q) element (-want +got):\n%s", tt.in, diff)
		}
	}
}

// Where a binding's requests go from a node: its own flow when the Path
// begins with the node (the element dropped), the first Path element's
// address otherwise; a single node as before, Path and all.
func TestNodeRouteContactOf(t *testing.T) {
	b, err := parseNode("sip:10.0.0.2:5060")
	if err != nil {
		t.Fatal(err)
	}
	uri := sip.Uri{Scheme: "sip", User: "app.mary", Host: "192.168.1.5", Port: 5060}
	mine := "<sip:TOKEN@10.0.0.2:5060;lr;ob>"
	theirs := "<sip:TOKEN@10.0.0.3;transport=tcp;lr;ob>"
	edge := "<sip:edge.example.net;lr>"
	tests := []struct {
		name string
		node *node
		path []string
		want b2bua.Contact
	}{
		{"single node", nil, []string{mine, edge}, b2bua.Contact{URI: uri, Dest: "203.0.113.9:40000", Transport: "UDP", Path: []string{mine, edge}}},
		{"no path", b, nil, b2bua.Contact{URI: uri, Dest: "203.0.113.9:40000", Transport: "UDP"}},
		{"held here", b, []string{mine}, b2bua.Contact{URI: uri, Dest: "203.0.113.9:40000", Transport: "UDP"}},
		{"held here behind an edge proxy", b, []string{mine, edge}, b2bua.Contact{URI: uri, Dest: "203.0.113.9:40000", Transport: "UDP", Path: []string{edge}}},
		{"held by another node", b, []string{theirs}, b2bua.Contact{URI: uri, Dest: "10.0.0.3:5060", Transport: "TCP", Path: []string{theirs}}},
	}
	for _, tt := range tests {
		bind := registrar.Binding{Source: "203.0.113.9:40000", Transport: "UDP", Path: tt.path}
		if diff := cmp.Diff(tt.want, tt.node.contactOf(&bind, uri), cmp.Transformer("uri", func(u sip.Uri) string { return u.String() })); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}
