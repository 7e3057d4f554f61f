package main

import (
	"strings"
	"testing"
)

// A cluster node's URI defaults to its SIP -listen address; a wildcard
// address is refused (no peer can send to it) unless -node-uri names one;
// a single node gets none.
func TestResolveNode(t *testing.T) {
	cluster := []string{"-cluster-listen", "127.0.0.1:6222", "-cluster-peer", "127.0.0.2:6222"}
	for _, tc := range []struct {
		name string
		args []string
		want string // the URI, or with err the error's words
		err  bool
	}{
		{name: "single node", args: []string{"-listen", "0.0.0.0:5060"}, want: ""},
		{name: "single node with uri", args: []string{"-node-uri", "sip:10.0.0.2:5060"}, want: "sip:10.0.0.2:5060"},
		{name: "cluster", args: append([]string{"-listen", "10.0.0.1:5070"}, cluster...), want: "sip:10.0.0.1:5070"},
		{name: "cluster v6", args: append([]string{"-listen", "[fd00::1]:5060"}, cluster...), want: "sip:[fd00::1]:5060"},
		{name: "external cluster", args: []string{"-listen", "10.0.0.1:5060", "-cluster-url", "nats://10.0.0.9:4222"}, want: "sip:10.0.0.1:5060"},
		{name: "explicit wins", args: append([]string{"-listen", "0.0.0.0:5060", "-node-uri", "sip:10.0.0.1:5060"}, cluster...), want: "sip:10.0.0.1:5060"},
		{name: "wildcard v4", args: append([]string{"-listen", "0.0.0.0:5060"}, cluster...), want: "every interface", err: true},
		{name: "wildcard v6", args: append([]string{"-listen", "[::]:5060"}, cluster...), want: "every interface", err: true},
		{name: "wildcard empty host", args: append([]string{"-listen", ":5060"}, cluster...), want: "every interface", err: true},
		{name: "no udp", args: append([]string{"-listen", "", "-tcp", "10.0.0.1:5060"}, cluster...), want: "needs -node-uri", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o serveOptions
			f := serveFlags(&o)
			if err := f.fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := resolveNode(&o)
			switch {
			case tc.err && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			case !tc.err && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.err && o.node.uri != tc.want:
				t.Errorf("node URI %q, want %q", o.node.uri, tc.want)
			}
		})
	}
}

// Port 0 is bound at once, so the URI carries the port the socket got.
func TestResolveNodeAnyPort(t *testing.T) {
	var o serveOptions
	f := serveFlags(&o)
	if err := f.fs.Parse([]string{"-listen", "127.0.0.1:0", "-cluster-listen", "127.0.0.1:6222", "-cluster-peer", "127.0.0.2:6222"}); err != nil {
		t.Fatal(err)
	}
	if err := resolveNode(&o); err != nil {
		t.Fatal(err)
	}
	if o.udp == nil {
		t.Fatal("no socket bound")
	}
	defer o.udp.Close()
	if want := "sip:" + o.udp.LocalAddr().String(); o.node.uri != want {
		t.Errorf("node URI %q, want %q", o.node.uri, want)
	}
}
