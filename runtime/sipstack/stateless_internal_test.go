package sipstack

import (
	"bytes"
	"fmt"
	"net"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func request(method, toTag string) []byte {
	to := "<sip:102@e2e.example>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	return fmt.Appendf(nil, "%s sip:102@e2e.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-1;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:app.mary@e2e.example>;tag=f\r\nTo: %s\r\nCall-ID: c1\r\nCSeq: 1 %s\r\nContent-Length: 0\r\n\r\n",
		method, to, method)
}

// Which datagrams the stateless path answers or absorbs, and what it
// sends: one response, marked with a stateless To tag.
func TestStateless(t *testing.T) {
	src := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5062}
	challenge := func(req *sip.Request) *sip.Response {
		return sip.NewResponseFromRequest(req, 407, "Proxy Authentication Required", nil)
	}
	for _, tc := range []struct {
		name   string
		data   []byte
		screen func(*sip.Request) *sip.Response
		served bool
		sent   int
	}{
		{"new INVITE", request("INVITE", ""), challenge, true, 1},
		{"new SUBSCRIBE", request("SUBSCRIBE", ""), challenge, true, 1},
		{"INVITE the handler must see", request("INVITE", ""), func(*sip.Request) *sip.Response { return nil }, false, 0},
		{"re-INVITE", request("INVITE", "b2b"), challenge, false, 0},
		{"ACK of a stateless answer", request("ACK", statelessTag+"abc"), challenge, true, 0},
		{"ACK of a dialog", request("ACK", "b2b"), challenge, false, 0},
		{"BYE", request("BYE", "b2b"), challenge, false, 0},
		{"garbage", []byte("INVITE junk\r\n\r\n"), challenge, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := &recorder{}
			s := NewStateless(tc.screen)
			if got := s.Serve(conn, tc.data, src); got != tc.served {
				t.Errorf("Serve = %v, want %v", got, tc.served)
			}
			if len(conn.sent) != tc.sent {
				t.Fatalf("sent %d datagrams, want %d", len(conn.sent), tc.sent)
			}
			if tc.sent > 0 && !bytes.Contains(conn.sent[0], []byte("To: <sip:102@e2e.example>;tag="+statelessTag)) {
				t.Errorf("no stateless To tag in\n%s", conn.sent[0])
			}
		})
	}
}
