package sipstack

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

func TestLowerTopViaParams(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"names lowered, values kept",
			"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP Host.Example:5060;Rport;Branch=z9hG4bK-AbC;X-Tag=\"Q;R=S\"\r\n\r\n",
			"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP Host.Example:5060;rport;branch=z9hG4bK-AbC;x-tag=\"Q;R=S\"\r\n\r\n"},
		{"compact form, spaces around the semicolon",
			"INVITE sip:a SIP/2.0\r\nv : SIP/2.0/UDP 192.0.2.1 ; RPORT ;BRANCH = z9hG4bK1\r\n\r\n",
			"INVITE sip:a SIP/2.0\r\nv : SIP/2.0/UDP 192.0.2.1 ; rport ;branch = z9hG4bK1\r\n\r\n"},
		{"only the first value of the first Via",
			"BYE sip:a SIP/2.0\r\nVIA: SIP/2.0/UDP a;Rport, SIP/2.0/UDP b;Rport\r\nVia: SIP/2.0/UDP c;Rport\r\n\r\n",
			"BYE sip:a SIP/2.0\r\nVIA: SIP/2.0/UDP a;rport, SIP/2.0/UDP b;Rport\r\nVia: SIP/2.0/UDP c;Rport\r\n\r\n"},
		{"a comma inside a quoted value does not end it",
			"BYE sip:a SIP/2.0\r\nVia: SIP/2.0/UDP a;X=\"1,\\\"2\";Rport\r\n\r\n",
			"BYE sip:a SIP/2.0\r\nVia: SIP/2.0/UDP a;x=\"1,\\\"2\";rport\r\n\r\n"},
		{"other headers untouched",
			"\r\n\r\nOPTIONS sip:a SIP/2.0\r\nFrom: <sip:A@B>;Tag=X\r\nVia: SIP/2.0/UDP a;Rport\r\n\r\n",
			"\r\n\r\nOPTIONS sip:a SIP/2.0\r\nFrom: <sip:A@B>;Tag=X\r\nVia: SIP/2.0/UDP a;rport\r\n\r\n"},
		{"a Via in the body is not the header's",
			"OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\r\n\r\nVia: SIP/2.0/UDP a;Rport\r\n",
			"OPTIONS sip:a SIP/2.0\r\nCall-ID: 1\r\n\r\nVia: SIP/2.0/UDP a;Rport\r\n"},
		{"a response is left alone",
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;Rport\r\n\r\n",
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;Rport\r\n\r\n"},
		{"no Via, no end", "OPTIONS sip:a SIP/2.0\r\nVian: x;Rport", "OPTIONS sip:a SIP/2.0\r\nVian: x;Rport"},
	} {
		b := []byte(tc.in)
		lowerTopViaParams(b)
		if string(b) != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, b, tc.want)
		}
	}
}

// FuzzLowerTopViaParams: the rewrite only ever lowers ASCII capitals,
// inside the header, is idempotent, and whatever sipgo parses of the
// request afterwards is what it parsed before but for the top Via's
// parameter names, now lower case.
func FuzzLowerTopViaParams(f *testing.F) {
	f.Add([]byte("OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP h:1;Rport;Branch=z9hG4bK-X\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("INVITE sip:a SIP/2.0\r\nv: SIP/2.0/UDP h;X=\"a,;B\";RPort, SIP/2.0/TCP g;Rport\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		lowerTopViaParams(data)
		if len(data) != len(orig) {
			t.Fatalf("length changed")
		}
		for i := range data {
			if data[i] != orig[i] && !('A' <= orig[i] && orig[i] <= 'Z' && data[i] == orig[i]+'a'-'A') {
				t.Fatalf("byte %d changed %q → %q", i, orig[i], data[i])
			}
		}
		again := bytes.Clone(data)
		lowerTopViaParams(again)
		if !bytes.Equal(again, data) {
			t.Fatalf("not idempotent")
		}
		before, err1 := sip.ParseMessage(orig)
		after, err2 := sip.ParseMessage(data)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("parse before %v, after %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		rb, ok1 := before.(*sip.Request)
		ra, ok2 := after.(*sip.Request)
		if !ok1 || !ok2 || rb.Via() == nil || ra.Via() == nil || bytes.IndexByte([]byte(rb.Via().Value()), '"') >= 0 {
			return
		}
		if len(rb.Via().Params) != len(ra.Via().Params) {
			return // sipgo keeps one of two names differing in case only
		}
		if v := rb.Via(); !strings.EqualFold(v.ProtocolName, "SIP") || v.ProtocolVersion != "2.0" || v.Host == "" {
			return // no sent-protocol or sent-by where sipgo looked: it split a malformed Via elsewhere than the filter
		}
		for _, kv := range rb.Via().Params {
			if !isToken(kv.K) {
				return // a malformed Via, which sipgo reads its own way
			}
		}
		for i, kv := range rb.Via().Params {
			got := ra.Via().Params[i]
			if got.K != strings.ToLower(kv.K) || got.V != kv.V {
				t.Fatalf("param %d: before %q=%q, after %q=%q", i, kv.K, kv.V, got.K, got.V)
			}
		}
	})
}

// A request over UDP whose Via says `Rport` (RFC 3261 §7.3.1: any case)
// is answered at the address it came from (RFC 3581 §4), not at its
// Via's sent-by port: sipgo looks rport up case-sensitively, so before
// the read filter lowered the name, the 200 went to the sent-by port.
func TestRportAnyCaseAnsweredAtSource(t *testing.T) {
	ua, err := sipgo.NewUA(StrictReads())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.ServeUDP(pc) }()
	t.Cleanup(func() { pc.Close(); <-done })

	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// from sends; sentBy is where the Via points, as a NAT's inside
	// address would.
	from, sentBy := listen(), listen()
	for i, rport := range []string{"Rport", "RPORT", "rport"} {
		msg := fmt.Sprintf("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n"+
			"Via: SIP/2.0/UDP %s;%s;Branch=z9hG4bK-case-%d\r\n"+
			"From: <sip:t@127.0.0.1>;tag=f%d\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: rport-case-%d\r\n"+
			"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			sentBy.LocalAddr(), rport, i, i, i)
		if _, err := from.WriteTo([]byte(msg), pc.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		// Whichever socket the answer reaches first says where it went.
		got := make(chan string, 2)
		var readers sync.WaitGroup
		for _, c := range []*net.UDPConn{from, sentBy} {
			readers.Go(func() {
				buf := make([]byte, 4096)
				_ = c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound on failure, not a wait
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				if c == from {
					got <- "source: " + string(buf[:n])
				} else {
					got <- "sent-by port: " + string(buf[:n])
				}
			})
		}
		select {
		case ans := <-got:
			if !strings.HasPrefix(ans, "source: SIP/2.0 200") {
				t.Fatalf("%s: answered at the %.80q…", rport, ans)
			}
			if want := fmt.Sprintf(";rport=%d;", from.LocalAddr().(*net.UDPAddr).Port); !strings.Contains(ans, want) {
				t.Errorf("%s: the answer's Via has no %s:\n%s", rport, want, ans)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no answer at either socket", rport)
		}
		// Unblock the other reader before the next round.
		_ = from.SetReadDeadline(time.Now())
		_ = sentBy.SetReadDeadline(time.Now())
		readers.Wait()
	}
}

// isToken reports whether s is an RFC 3261 §25.1 token.
func isToken(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-.!%*_+`'~", c) >= 0) {
			return false
		}
	}
	return s != ""
}
