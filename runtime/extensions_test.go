package runtime_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// A request that requires an extension the server does not implement gets
// 420 Bad Extension naming it (RFC 3261 §8.2.2.3); one it implements, or
// one merely Supported, goes on as usual (here: to the digest challenge).
func TestRequireUnknownExtension(t *testing.T) {
	h := start(t)
	p := newUDPPeer(t, h.addr)
	port := p.conn.LocalAddr().(*net.UDPAddr).Port
	request := func(method, branch, extra string) []byte {
		var b strings.Builder
		fmt.Fprintf(&b, "%s sip:1A@e2e.example SIP/2.0\r\n", method)
		fmt.Fprintf(&b, "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s;rport\r\nMax-Forwards: 70\r\n", port, branch)
		b.WriteString("From: <sip:device.gate@e2e.example>;tag=g1\r\nTo: <sip:1A@e2e.example>\r\n")
		fmt.Fprintf(&b, "Call-ID: require-%s\r\nCSeq: 1 %s\r\n", branch, method)
		fmt.Fprintf(&b, "Contact: <sip:device.gate@127.0.0.1:%d>\r\n%sContent-Length: 0\r\n\r\n", port, extra)
		return []byte(b.String())
	}
	tests := []struct {
		name, method, headers string
		status                int
		unsupported           string
	}{
		{"100rel and timer", "INVITE", "Require: 100rel, timer\r\nRequire: 100REL\r\n", 420, "100rel, timer"},
		{"path only", "REGISTER", "Require: path\r\n", 401, ""},
		{"supported, not required", "INVITE", "Supported: 100rel, timer\r\n", 407, ""},
		{"on SUBSCRIBE", "SUBSCRIBE", "Event: message-summary\r\nRequire: foo\r\n", 420, "foo"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parseResponse(t, p.exchange(request(tt.method, fmt.Sprint(i), tt.headers)))
			if res.StatusCode != tt.status {
				t.Fatalf("%s: %d %s, want %d", tt.method, res.StatusCode, res.Reason, tt.status)
			}
			got := ""
			if u := res.GetHeader("Unsupported"); u != nil {
				got = u.Value()
			}
			if got != tt.unsupported {
				t.Errorf("Unsupported: %q, want %q", got, tt.unsupported)
			}
		})
	}
}

// OPTIONS (a device's keep-alive, or a peer asking) names the methods,
// body type, extensions and event packages the server serves.
func TestOptionsSaysWhatWeServe(t *testing.T) {
	h := start(t)
	p := newUDPPeer(t, h.addr)
	port := p.conn.LocalAddr().(*net.UDPAddr).Port
	msg := fmt.Sprintf("OPTIONS sip:e2e.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-options;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:probe@e2e.example>;tag=o1\r\nTo: <sip:e2e.example>\r\nCall-ID: options-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", port)
	res := parseResponse(t, p.exchange([]byte(msg)))
	if res.StatusCode != 200 {
		t.Fatalf("OPTIONS: %d %s", res.StatusCode, res.Reason)
	}
	for name, want := range map[string]string{
		"Allow":        "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE",
		"Accept":       "application/sdp",
		"Supported":    "path",
		"Allow-Events": "message-summary",
	} {
		if h := res.GetHeader(name); h == nil || h.Value() != want {
			t.Errorf("%s: %v, want %q", name, h, want)
		}
	}
}
