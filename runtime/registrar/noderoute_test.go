package registrar_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/registrar"
)

// In cluster mode the node's own Path element (WithFlowPath) is stored
// first, before the edge proxies' of the REGISTER, for the flow the
// REGISTER came over; the 200 OK echoes only the proxies' (RFC 3327 §5.3),
// never the node's, which is no business of the device's.
func TestNodeRouteFlowPath(t *testing.T) {
	type flow struct{ Source, Transport string }
	var asked []flow
	head := func(source, transport string) string {
		asked = append(asked, flow{source, transport})
		return "<sip:TOKEN@192.0.2.7:5060;lr;ob>"
	}
	tests := []struct {
		name     string
		headers  []string
		want     string
		wantPath []string
	}{{
		name:     "directly",
		headers:  []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: 300", "Supported: path"},
		want:     ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=300",
		wantPath: []string{"<sip:TOKEN@192.0.2.7:5060;lr;ob>"},
	}, {
		name: "through edge proxies",
		headers: []string{"Contact: <sip:app.mary@10.0.0.5>", "Expires: 300",
			"Path: <sip:edge-1.example.net;lr>", "Supported: path"},
		want:     ok + "\nContact: <sip:app.mary@10.0.0.5>;expires=300\nPath: <sip:edge-1.example.net;lr>",
		wantPath: []string{"<sip:TOKEN@192.0.2.7:5060;lr;ob>", "<sip:edge-1.example.net;lr>"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked = nil
			f := newFixture(t, registrar.WithFlowPath(head))
			res := f.register(t, request(t, "app.mary", "c1", 1, "203.0.113.9:40000", tt.headers...), passwords["app.mary"])
			if diff := cmp.Diff(tt.want, summary(res)); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			bs := f.r.Lookup("app.mary")
			if len(bs) != 1 {
				t.Fatalf("bindings: %+v", bs)
			}
			if diff := cmp.Diff(tt.wantPath, bs[0].Path); diff != "" {
				t.Errorf("stored Path (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]flow{{"203.0.113.9:40000", "UDP"}}, asked); diff != "" {
				t.Errorf("flows asked for (-want +got):\n%s", diff)
			}
		})
	}
}

// Without WithFlowPath a REGISTER's binding keeps exactly its Path: a
// single node, as before.
func TestNodeRouteNoFlowPathSingleNode(t *testing.T) {
	f := newFixture(t)
	f.register(t, request(t, "app.mary", "c1", 1, "203.0.113.9:40000", "Contact: <sip:app.mary@10.0.0.5>", "Expires: 300"), passwords["app.mary"])
	bs := f.r.Lookup("app.mary")
	if len(bs) != 1 || bs[0].Path != nil || !bs[0].Expires.Equal(epoch.Add(300*time.Second)) {
		t.Errorf("binding: %+v, want one without a Path", bs)
	}
}
