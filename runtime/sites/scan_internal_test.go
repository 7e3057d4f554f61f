package sites

import (
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestScan(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want head
		ok   bool
	}{
		{"register", "REGISTER sip:10.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2\r\nTo: <sip:app.ann@a.example>\r\nFrom: <sip:app.ann@a.example>;tag=1\r\nCall-ID: abc@x\r\n\r\n",
			head{method: "REGISTER", uri: "sip:10.0.0.1:5060", callID: "abc@x", to: "<sip:app.ann@a.example>", from: "<sip:app.ann@a.example>;tag=1"}, true},
		{"compact names, any case", "INVITE sip:101@b.example SIP/2.0\nt: sip:101@b.example\nF: \"Door\" <sip:door@b.example>;tag=2\nI: xyz\n\n",
			head{method: "INVITE", uri: "sip:101@b.example", callID: "xyz", to: "sip:101@b.example", from: "\"Door\" <sip:door@b.example>;tag=2"}, true},
		{"response", "SIP/2.0 200 OK\r\ncall-id: r1\r\n\r\n", head{response: true, callID: "r1"}, true},
		{"the body is not read", "MESSAGE sip:a@b SIP/2.0\r\nCall-ID: m\r\n\r\nCall-ID: other\r\n", head{method: "MESSAGE", uri: "sip:a@b", callID: "m"}, true},
		{"no Call-ID", "OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n\r\n", head{}, false},
		{"not SIP", "GET / HTTP/1.1\r\nCall-ID: x\r\n\r\n", head{}, false},
		{"keep-alive", "\r\n\r\n", head{}, false},
	}
	for _, tt := range tests {
		got, ok := scan([]byte(tt.msg))
		if ok != tt.ok {
			t.Errorf("%s: ok %v, want %v", tt.name, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(head{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestHostOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sip:10.0.0.1:5060", "10.0.0.1"},
		{"<sip:app.ann@A.Example>", "a.example"},
		{"\"Ann <sip:x@y> \\\"A\\\"\" <sip:ann@a.example>;tag=1", "a.example"}, // brackets in a quoted display name
		{"\"unterminated <sip:ann@a.example>", ""},
		{"Ann <sips:ann@a.example:5061;transport=tls>;tag=1", "a.example"},
		{"sip:ann@a.example;tag=1", "a.example"},
		{"sip:101@[2001:db8::1]:5060", "[2001:db8::1]"},
		{"sip:user:pass@b.example", "b.example"},
		{"sip:a.example?subject=x@y", "a.example"},
		{"tel:+35312345", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := hostOf(tt.in); got != tt.want {
			t.Errorf("hostOf(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOwnersForgetAfterTwoGenerations(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	o := newOwners()
	o.now = func() time.Time { return now }
	o.rotated = now
	a, b := &entry{name: "a"}, &entry{name: "b"}
	o.set("kept", a)
	o.set("dropped", b)
	now = now.Add(ownersTTL)
	if o.get("kept") != a { // promoted to the current generation
		t.Fatal("a Call-ID one generation old is forgotten")
	}
	now = now.Add(ownersTTL)
	if o.get("kept") != a {
		t.Error("a Call-ID seen in the last generation is forgotten")
	}
	if o.get("dropped") != nil {
		t.Error("a Call-ID unseen for two generations is still remembered")
	}
	if n := o.len(); n != 1 {
		t.Errorf("%d Call-IDs remembered, want 1", n)
	}
}

// FuzzScan: scan reads outside input; it must not panic, and what it
// reads of a request's headers must be found in it.
func FuzzScan(f *testing.F) {
	f.Add([]byte("REGISTER sip:a SIP/2.0\r\nTo: <sip:x@a.example>\r\nCall-ID: 1\r\n\r\n"))
	f.Add([]byte("SIP/2.0 200 OK\nI: 2\n\n"))
	f.Add([]byte("INVITE sip:[::1 SIP/2.0\nt: <sips:@>\ni:x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := scan(b)
		if !ok {
			return
		}
		_ = hostOf(h.to)
		_ = hostOf(h.from)
		_ = hostOf(h.uri)
		if h.callID == "" {
			t.Errorf("ok without a Call-ID: %q", b)
		}
	})
}

func TestNotFound(t *testing.T) {
	req := "OPTIONS sip:x@c.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0\r\n" +
		"Max-Forwards: 70\r\nFrom: <sip:a@c.example>;tag=1\r\nTo: <sip:x@c.example>\r\nCall-ID: nf\r\nCSeq: 7 OPTIONS\r\nContact: <sip:a@127.0.0.1>\r\n\r\n"
	got := string(notFound([]byte(req)))
	tag := regexp.MustCompile(`To: <sip:x@c\.example>;tag=[0-9a-z]+\r\n`).FindString(got)
	if tag == "" {
		t.Fatalf("no To with a tag in:\n%s", got)
	}
	want := "SIP/2.0 404 Not Found\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1\r\nv: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0\r\n" +
		"From: <sip:a@c.example>;tag=1\r\n" + tag + "Call-ID: nf\r\nCSeq: 7 OPTIONS\r\nServer: switchboard\r\nContent-Length: 0\r\n\r\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
