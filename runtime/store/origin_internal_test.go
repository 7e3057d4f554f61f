package store

import "testing"

// An embedded node marks its writes with its name, so the mark survives a
// restart; nodes of an external cluster, which may share a host name,
// each get a mark of their own.
func TestOriginOf(t *testing.T) {
	embedded := &Cluster{Node: "sb1", Listen: "127.0.0.1:6222", Peers: []string{"127.0.0.2:6222"}}
	if a, b := originOf(embedded), originOf(embedded); a != b || a != "node:sb1" {
		t.Errorf("embedded node's marks %q and %q, want node:sb1 twice", a, b)
	}
	external := &Cluster{Node: "host", URL: "nats://127.0.0.1:4222"}
	if a, b := originOf(external), originOf(external); a == b {
		t.Errorf("two runs against an external cluster share the mark %q", a)
	}
}
